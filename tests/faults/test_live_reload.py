"""The reload path under faults (docs/reliability.md): a half-written file, a deleted file
and an invalid edit reach a watching gateway while it serves; the old config keeps serving
every request, and the file's next good state is applied."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from tests.support.procs import Proc, mock_provider, start_gateway, start_scripted
from tests.support.wait import until


def _config(mock: Proc, k: int) -> dict[str, Any]:
    return {
        "providers": {"mock": mock_provider(mock)},
        "models": {"live": {"deployments": [{"provider": "mock", "model": f"v{k}"}]}},
    }


class Traffic:
    """Chat calls to the model ``live`` in a thread, one after another, until stopped: the
    deployment of each answer in turn, and every failure."""

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client
        self.seen: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self.client.chat.completions.with_raw_response.create(
                    model="live", messages=[{"role": "user", "content": "hi"}]
                )
                self.seen.append(raw.headers["x-turnout-deployment"])
            except Exception as exc:
                self.failures.append(repr(exc))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def test_broken_files_never_stop_the_serving_config(mock: Proc, tmp_path: Path) -> None:
    proc = start_gateway(_config(mock, 0), tmp_path, ready_within=60)
    path = tmp_path / f"turnout-{proc.port}.yaml"
    client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0)
    traffic = Traffic(client)  # requests all along, none may fail
    seen, failures = traffic.seen, traffic.failures

    def state() -> dict[str, Any]:
        live: dict[str, Any] = httpx.get(proc.url + "/admin/config").json()["live"]
        return live

    def serving(version: str) -> bool:
        return bool(seen) and seen[-1] == f"mock/{version}"

    traffic.start()
    try:
        until(lambda: serving("v0"), 30)
        good = yaml.safe_dump(_config(mock, 1))
        path.write_text(good[: len(good) // 2])  # half-written: cut mid-structure
        until(lambda: state()["last_error"] is not None)
        assert serving("v0")
        path.write_text(good)  # the writer finishes
        until(lambda: serving("v1"))
        until(lambda: state()["last_error"] is None)

        path.unlink()  # deleted (a deploy that removes, then recreates, the file)
        until(lambda: (e := state()["last_error"]) is not None and "cannot read" in str(e))
        assert serving("v1")
        path.write_text(yaml.safe_dump(_config(mock, 2)))
        until(lambda: serving("v2"))

        bad = _config(mock, 3)
        bad["models"]["live"]["deployments"][0]["provider"] = "missing"
        path.write_text(yaml.safe_dump(bad))  # valid YAML, dangling reference
        until(lambda: "missing" in str(state()["last_error"]))
        count = len(seen)
        until(lambda: len(seen) > count + 5)
        assert serving("v2")
    finally:
        traffic.stop()
        output = proc.output()
        proc.stop()
    assert not failures, failures[:5]
    assert "Traceback" not in output


class _Opens:
    """Counts the opens of one file by any process (Linux inotify ``IN_OPEN``): when the
    gateway reads its config, without a timed wait."""

    IN_OPEN = 0x20

    def __init__(self, path: Path) -> None:
        import ctypes
        import os

        self._os = os
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK)
        assert self.fd >= 0 and libc.inotify_add_watch(self.fd, bytes(path), self.IN_OPEN) >= 0
        self.count = 0

    def __call__(self) -> int:
        while True:
            try:
                data = self._os.read(self.fd, 4096)
            except BlockingIOError:
                return self.count
            self.count += len(data) // 16  # a file watch's events carry no name

    def close(self) -> None:
        self._os.close(self.fd)


def _state(proc: Proc) -> dict[str, Any]:
    live: dict[str, Any] = httpx.get(proc.url + "/admin/config").json()["live"]
    return live


def test_a_file_written_in_place_is_applied_only_once_written(mock: Proc, tmp_path: Path) -> None:
    """A writer truncates the watched file, writes a valid first half, then the rest, holding
    it open all along (a template tool, ``cat > file``, a copy over the network). Before, the
    watcher applied the empty file (every model gone: 404s) and then the half; now the reload
    waits while the file is open for writing and applies the finished file once."""
    proc = start_gateway(_config(mock, 0), tmp_path, ready_within=60)
    path = tmp_path / f"turnout-{proc.port}.yaml"
    client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0)
    traffic = Traffic(client)
    seen, failures = traffic.seen, traffic.failures

    full = _config(mock, 1)
    full["models"]["second"] = {"deployments": [{"provider": "mock", "model": "s"}]}
    text = yaml.safe_dump(full)
    half = yaml.safe_dump(_config(mock, 1))  # valid alone: model live, no model second
    assert text.startswith(half[: half.index("\n")]) and len(half) < len(text)
    traffic.start()
    opens = _Opens(path)
    try:
        until(lambda: bool(seen), 30)
        with path.open("r+") as f:
            f.truncate(0)  # what `open(path, "w")` and `> file` do first
            f.flush()
            start = opens()
            until(lambda: opens() >= start + 2, 30)  # the gateway read it, and again
            f.write(half)
            f.flush()
            start = opens()
            until(lambda: opens() >= start + 2, 30)
            f.seek(0)
            f.truncate(0)
            f.write(text)
        until(lambda: seen[-1] == "mock/v1", 30)
        assert (
            client.chat.completions.with_raw_response.create(
                model="second", messages=[{"role": "user", "content": "hi"}]
            ).headers["x-turnout-deployment"]
            == "mock/s"
        )
        assert _state(proc)["reloads"]["reloaded"] == 1, _state(proc)
    finally:
        traffic.stop()
        opens.close()
        output = proc.output()
        proc.stop()
    assert not failures, failures[:3]
    assert "Traceback" not in output


def _established(port: int) -> int:
    """Open TCP connections accepted on ``port`` (the upstream's side, from /proc/net/tcp)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    count += 1
    return count


def test_connections_to_a_removed_provider_are_closed(mock: Proc, tmp_path: Path) -> None:
    """A provider a reload removed gets no more requests, so its pool never released another
    connection, which was when idle ones were expired: its keep-alive connection stayed open
    for as long as the upstream kept it (this one never closes one). Now each pool closes its
    idle connections after the idle limit (30 s) whether or not requests come. The upstream
    announces ``Keep-Alive: timeout=4``, which lowers that limit to 3 s (the same sweep, a
    test that does not wait half a minute); it still never closes a connection itself."""
    answer = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "gone",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
    }
    script = {"gone": {"chunks": [json.dumps(answer)], "headers": {"keep-alive": "timeout=4"}}}
    upstream = start_scripted(script, tmp_path)
    cfg = _config(mock, 0)
    cfg["providers"]["up"] = {"type": "openai-compatible", "base_url": upstream.url + "/v1",
                              "api_keys": ["k-0000001"]}  # fmt: skip
    cfg["models"]["gone"] = {"deployments": [{"provider": "up", "model": "gone"}]}
    proc = start_gateway(cfg, tmp_path, "--no-watch", ready_within=60)
    path = tmp_path / f"turnout-{proc.port}.yaml"
    client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0)
    try:
        done = client.chat.completions.create(
            model="gone", messages=[{"role": "user", "content": "x"}]
        )
        assert done.choices[0].message.content == "hi"
        until(lambda: _established(upstream.port) == 1, 10)  # kept alive in the pool
        path.write_text(yaml.safe_dump(_config(mock, 1)))  # the provider is gone
        answer_ = httpx.post(proc.url + "/admin/config/reload", timeout=60)
        assert answer_.status_code == 200, answer_.text
        until(lambda: _established(upstream.port) == 0, 90)
    finally:
        proc.stop()
        upstream.stop()
