"""A capture waiting for the writer holds its bodies as bytes, never as parsed JSON.

A capture record parsed the client's body when the request arrived and held the Python
objects until the writer wrote it: 1 MB of ``{"a":0},…`` is 24 MB of objects, and up to
1,000 records wait while the writer is behind (a slow disk), so a caller sending large bodies
held gigabytes of the gateway's memory (docs/security.md, "Capture records held as parsed
JSON").
"""

from __future__ import annotations

from pathlib import Path

import openai

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

# The capture writer waits while the file HOLD exists: a writer that is behind.
_BOOT = """
import os, time
import turnout.observability.capture as capture
hold = os.environ["CAPTURE_HOLD"]
original = capture.Capture._write
def _write(self, records):
    while os.path.exists(hold):
        time.sleep(0.02)
    original(self, records)
capture.Capture._write = _write
"""


def _rss(gw: Proc) -> int:
    for line in Path(f"/proc/{gw.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_queued_captures_hold_bytes_not_objects(mock: Proc, tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "gpt-4o-mini"}]}},
        "capture": {"enabled": True, "dir": str(tmp_path / "captures")},
        "storage": {"enabled": False},
    }
    gw = start_gateway(config, tmp_path, env={"CAPTURE_HOLD": str(hold)}, boot=_BOOT)
    try:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
        blob = [{"a": 0}] * 120_000  # about 1 MB as JSON

        def call(rid: str) -> None:
            client.chat.completions.create(
                model="gpt-test",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-request-id": rid},
                extra_body={"blob": blob},
            )

        call("warm-up")  # the gateway's own peak for one such request, reached once
        before = _rss(gw)
        for i in range(10):
            call(f"held-{i}")
        grown = _rss(gw) - before
        # Ten records of ~1 MB each wait; parsed, they held ~240 MB.
        assert grown < 100 * 2**20, grown
        hold.unlink()
        # written once the writer resumed
        until(lambda: list((tmp_path / "captures").glob("*_held-9.json")), 30, 0.05)
    finally:
        gw.stop()
