from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import orjson

from tests.contract.rows import row
from turnout.storage.rows import COLUMNS, decode, encode
from turnout.storage.spool import Spool


def test_rows_survive_the_spool_encoding() -> None:
    rows = [row(1.5, attempt_log='[{"a":1}]', cost=None), row(2, model="m\u00e9")]
    assert [decode(line) for line in encode(rows).splitlines()] == rows


def test_rows_spooled_before_later_columns_replay_with_nulls_there() -> None:
    full = row(
        1,
        task_id="t-1",
        bytes_in=10,
        bytes_out=20,
        guardrails='[["pii","email","x"]]',
        task_state="working",
    )
    cut = len(COLUMNS) - len(("task_id", "bytes_in", "bytes_out", "task_state"))
    # before the guardrails column, before the task and bytes, before the task's state
    for width in (cut - 1, cut, len(COLUMNS) - 1):
        line = orjson.dumps(list(full[:width]))
        assert decode(line) == full[:width] + (None,) * (len(COLUMNS) - width)
    assert decode(line) is not None
    assert decode(orjson.dumps(list(full[:-6]))) is None  # not a row of any version
    assert decode(orjson.dumps(list(full[:-2]))) is None


def test_append_seal_replay_remove(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=10_000_000)
    rows = [row(i) for i in range(25)]
    assert spool.append(rows[:10]) == 10
    assert spool.segments() == []  # still being written
    spool.seal()
    spool.append(rows[10:])
    spool.seal()
    segments = spool.segments()
    assert len(segments) == 2
    replayed = []
    for path in segments:
        with spool.claim(path) as mine:
            assert mine
            for chunk in spool.read(path, chunk=4):
                assert len(chunk) <= 4
                replayed.extend(chunk)
        spool.remove(path)
    assert replayed == rows
    assert spool.segments() == [] and spool.size == 0


def test_full_spool_drops_and_counts(tmp_path: Path) -> None:
    one = len(encode([row(0)]))
    spool = Spool(tmp_path, max_bytes=one * 3)
    assert spool.append([row(0), row(1)]) == 2
    assert spool.append([row(2), row(3)]) == 0
    assert spool.dropped == 2


def test_a_line_cut_by_a_crash_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "spool-1-1-aa.jsonl").write_bytes(encode([row(0)]) + b'["2026-11-20T12:00:00+00:0')
    spool = Spool(tmp_path, max_bytes=1 << 20)
    [path] = spool.segments()
    with spool.claim(path):
        assert [len(c) for c in spool.read(path, 10)] == [1]
    assert spool.corrupt == 1


def test_a_segment_locked_by_another_process_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "spool-1-1-aa.jsonl"
    path.write_bytes(encode([row(0)]))
    fd = os.open(path, os.O_RDONLY)
    pid = os.fork()
    if pid == 0:  # the "other process": holds the lock until killed
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.kill(os.getpid(), 19)  # SIGSTOP: keep the lock
        os._exit(0)
    try:
        os.waitpid(pid, os.WUNTRACED)
        spool = Spool(tmp_path, max_bytes=1 << 20)
        with spool.claim(path) as mine:
            assert not mine
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def test_segments_rotate(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 30)
    spool.SEGMENT_BYTES = 2000
    for i in range(40):
        spool.append([row(i)])
    spool.seal()
    assert len(spool.segments()) > 3


def test_a_segment_being_opened_is_never_seen_unlocked(tmp_path: Path, monkeypatch: Any) -> None:
    """Workers of ``serve --workers N`` spool into one directory. Before, a new segment was
    created under its final name and locked just after: a sibling listing the directory in
    between claimed it (its lock was free), replayed it empty and deleted it, and the rows then
    appended went to a deleted file. Now it gets its name only once it is locked."""
    writer, sibling = Spool(tmp_path, 10**9), Spool(tmp_path, 10**9)
    real = fcntl.flock
    seen: list[bool] = []

    def flock(fd: int, op: int) -> None:
        if op == fcntl.LOCK_EX and not seen:  # the writer, between creating and locking
            for path in sibling.segments():
                with sibling.claim(path) as mine:
                    seen.append(mine)
                    if mine:
                        sibling.remove(path)
            seen.append(False)
        real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    written = row(1)
    assert writer.append([written]) == 1
    assert seen and not any(seen[:-1])  # nothing claimable while being opened
    writer.seal()
    monkeypatch.setattr(fcntl, "flock", real)
    (path,) = sibling.segments()
    assert [r for batch in sibling.read(path, 10) for r in batch] == [written]
