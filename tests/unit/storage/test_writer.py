"""The writer through an outage: a store that fails on demand, a real spool, the memory store
behind it (it skips duplicates exactly like the SQL backends, see tests/contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.contract.rows import row
from tests.support.wait import until_async
from turnout.storage.memory import MemoryLogStore
from turnout.storage.rows import Row
from turnout.storage.spool import Spool
from turnout.storage.writer import LogWriter, is_row_error

pytestmark = pytest.mark.asyncio(loop_scope="function")


class Flaky(MemoryLogStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.commit_then_fail = False  # the insert lands, its acknowledgement is lost
        self.bad_ids: set[str] = set()
        self.unencodable: set[str] = set()  # rows the driver cannot encode (a value too big)
        self.inserts = 0

    def _check(self, rows: list[Row]) -> None:
        if self.down:
            raise ConnectionRefusedError("down")
        if any(r[1] in self.unencodable for r in rows):
            raise OverflowError("value out of int32 range")  # asyncpg's, before any SQL
        if any(r[1] in self.bad_ids for r in rows):
            err = ValueError("bad row")
            err.sqlstate = "22021"  # type: ignore[attr-defined]
            raise err

    async def insert(self, rows: list[Row]) -> None:
        self.inserts += 1
        self._check(rows)
        await super().insert(rows)
        if self.commit_then_fail:
            raise ConnectionResetError("lost the ack")

    async def insert_again(self, rows: list[Row]) -> int:
        self._check(rows)
        return await super().insert_again(rows)

    async def ping(self) -> None:
        if self.down:
            raise ConnectionRefusedError("down")


def _writer(tmp_path: Path, store: Flaky, **kw: Any) -> LogWriter:
    writer = LogWriter(store, Spool(tmp_path / "spool", 1 << 30), interval=0.01, **kw)
    return writer


async def test_rows_are_inserted_in_batches(tmp_path: Path) -> None:
    store = Flaky()
    writer = _writer(tmp_path, store, batch_size=10)
    writer.put_many([row(i) for i in range(35)])
    await writer.step()
    assert await store.count() == 35 and store.inserts == 4 and writer.written == 35


class Arriving(Flaky):
    """Rows keep finishing while a batch is written (a loaded gateway)."""

    def __init__(self) -> None:
        super().__init__()
        self.writer: LogWriter | None = None

    async def insert(self, rows: list[Row]) -> None:
        await super().insert(rows)
        assert self.writer is not None
        self.writer.put_many([row(1000 + self.inserts * 10 + i) for i in range(3)])


async def test_rows_finished_during_a_write_wait_for_the_next_turn(tmp_path: Path) -> None:
    store = Arriving()
    writer = store.writer = _writer(tmp_path, store, batch_size=10)
    writer.put_many([row(i) for i in range(25)])
    await writer.step()  # the 25 queued rows in 3 batches; 9 more arrived meanwhile
    assert store.inserts == 3 and await store.count() == 25 and writer.queued == 9
    await writer.step()
    assert store.inserts == 4 and await store.count() == 34 and writer.queued == 3


async def test_an_outage_spools_then_replays_each_row_once(tmp_path: Path) -> None:
    store = Flaky()
    writer = _writer(tmp_path, store, batch_size=10)
    store.down = True
    writer.put_many([row(i) for i in range(30)])
    await writer.step()
    assert not writer.up and writer.spool.rows == 30 and await store.count() == 0
    attempts = store.inserts
    writer.put_many([row(100 + i) for i in range(5)])
    await writer.step()
    assert store.inserts == attempts  # while backing off, the database is not hammered
    store.down = False
    writer._retry_at = writer._replay_at = 0.0
    writer.put_many([row(200)])
    await writer.step()
    assert writer.up and await store.count() == 36
    assert writer.spool.segments() == []


async def test_a_batch_committed_but_unacknowledged_is_not_duplicated(tmp_path: Path) -> None:
    store = Flaky()
    writer = _writer(tmp_path, store)
    store.commit_then_fail = True
    writer.put_many([row(i) for i in range(5)])
    await writer.step()
    assert writer.spool.rows == 5 and await store.count() == 5
    store.commit_then_fail = False
    writer._retry_at = writer._replay_at = 0.0
    await writer.step()
    assert await store.count() == 5 and writer.replayed == 0
    assert writer.spool.segments() == []


async def test_a_refused_row_does_not_sink_its_batch(tmp_path: Path) -> None:
    store = Flaky()
    writer = _writer(tmp_path, store)
    rows = [row(i) for i in range(5)]
    store.bad_ids = {rows[2][1]}
    writer.put_many(rows)
    await writer.step()
    assert await store.count() == 4 and writer.rejected == 1 and writer.up


async def test_a_row_the_driver_cannot_encode_does_not_sink_the_request_log(
    tmp_path: Path,
) -> None:
    """Before: asyncpg's ``OverflowError`` for one value past a column (a token count from a
    hostile upstream) was taken for an outage: the batch, every other call's rows with it, was
    spooled, and each replay failed the same way, so nothing was written any more."""
    store = Flaky()
    writer = _writer(tmp_path, store)
    rows = [row(i) for i in range(5)]
    store.unencodable = {rows[1][1]}
    writer.put_many(rows)
    await writer.step()
    assert await store.count() == 4 and writer.rejected == 1 and writer.up
    assert writer.spool.rows == 0
    writer.put_many([row(10)])
    await writer.step()
    assert await store.count() == 5


async def test_a_full_queue_spills_to_the_spool(tmp_path: Path) -> None:
    store = Flaky()
    writer = _writer(tmp_path, store, capacity=10)
    writer.put_many([row(i) for i in range(25)])
    assert writer.queued == 10 and writer.overflowed == 15 and writer.spool.rows == 15
    await writer.step()
    assert await store.count() == 25


async def test_stop_writes_what_is_queued_and_spools_when_down(tmp_path: Path) -> None:
    store = Flaky()
    writer = _writer(tmp_path, store)
    writer.start()
    writer.put_many([row(i) for i in range(3)])
    await writer.stop()
    assert await store.count() == 3
    store.down = True
    writer.mark_down(ConnectionRefusedError())
    writer.put_many([row(10 + i) for i in range(4)])
    await writer.stop()
    assert len(writer.spool.segments()) == 1  # sealed, for the next start to replay


async def test_the_task_survives_and_keeps_writing(tmp_path: Path) -> None:
    store = Flaky()
    writer = _writer(tmp_path, store)
    writer.start()
    for i in range(5):
        writer.put_many([row(i)])

        async def written(n: int = i + 1) -> bool:  # by the running task, row after row
            return await store.count() == n

        await until_async(written)
    await writer.stop()
    assert await store.count() == 5


async def test_row_errors_are_told_apart_from_outages() -> None:
    err = ValueError()
    err.sqlstate = "23505"  # type: ignore[attr-defined]
    assert is_row_error(err)
    assert is_row_error(OverflowError("value out of int32 range"))
    assert not is_row_error(ConnectionRefusedError())
    assert not is_row_error(TimeoutError())
