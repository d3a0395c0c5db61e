"""Request capture: one redacted JSON file per request, stream chunks with timings, limits."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.unit.observability.helpers import call
from turnout.config.observability import CaptureConfig
from turnout.errors import UpstreamUnavailable
from turnout.observability.capture import Capture
from turnout.types import Call, Reply

pytestmark = pytest.mark.asyncio(loop_scope="function")
PROVIDER_KEY = "sk-provider-key-do-not-leak-1234"


def _capture(tmp_path: Path, **cfg: Any) -> Capture:
    config = CaptureConfig(enabled=True, dir=str(tmp_path / "cap"), **cfg)
    return Capture(config, [PROVIDER_KEY])


def _files(tmp_path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(p.read_bytes()) for p in sorted((tmp_path / "cap").glob("*.json"))]


async def test_a_whole_reply_is_captured_with_secrets_redacted(tmp_path: Path) -> None:
    capture = _capture(tmp_path)
    capture.start()
    leaky = orjson.dumps(
        {"echo": f"key={PROVIDER_KEY}", "other": "AIzaSyA-1234567890abcdefghijklm"}
    )

    async def handler(c: Call) -> Reply:
        return Reply(200, [(b"content-type", b"application/json")], body=leaky)

    c = call(
        query=b"alt=sse&key=client-google-key", headers={b"x-api-key": b"gw-key", b"x-trace": b"t"}
    )
    reply = await capture.step(c, handler)
    assert reply.body == leaky  # the client gets the real bytes
    await capture.stop()
    [record] = _files(tmp_path)
    text = orjson.dumps(record).decode()
    for secret in (PROVIDER_KEY, "AIzaSy", "client-google-key", "gw-key", "sk-client-secret"):
        assert secret not in text
    assert record["request"]["headers"]["x-trace"] == "t"
    assert record["request"]["body"]["model"] == "gpt-x"
    assert record["response"]["status"] == 200 and record["deployment"] == "p1/gpt-4o"


async def test_stream_chunks_are_captured_with_timings_and_the_original_request(
    tmp_path: Path,
) -> None:
    # Two frames of 11 bytes, each counted with its 32 bytes of frame: 86 of 90.
    capture = _capture(tmp_path, max_body_bytes=90)
    capture.start()
    closed = []

    async def chunks() -> AsyncIterator[bytes]:
        try:
            for part in (b"data: one\n\n", b"data: two\n\n", b"data: three-is-long\n\n"):
                yield part
        finally:
            closed.append(True)

    async def handler(c: Call) -> Reply:
        return Reply(200, [], chunks=chunks())

    c = call(stream=True)
    c.client_body = b'{"model":"gpt-x","stream":true}'
    reply = await capture.step(c, handler)
    assert reply.chunks is not None
    got = [chunk async for chunk in reply.chunks]
    assert b"".join(got) == b"data: one\n\ndata: two\n\ndata: three-is-long\n\n"
    assert closed == [True]
    await capture.stop()
    [record] = _files(tmp_path)
    frames = record["response"]["chunks"]
    assert [f["data"] for f in frames] == ["data: one\n\n", "data: two\n\n"]
    assert record["response"]["truncated"] is True
    assert frames[0]["t_ms"] <= frames[1]["t_ms"]
    assert "stream_options" not in str(record["request"]["body"])


async def test_errors_are_captured_and_models_filtered(tmp_path: Path) -> None:
    capture = _capture(tmp_path, models=["gpt-*"])
    capture.start()

    async def failing(c: Call) -> Reply:
        raise UpstreamUnavailable("nope")

    with pytest.raises(UpstreamUnavailable):
        await capture.step(call(), failing)

    async def fine(c: Call) -> Reply:
        return Reply(200, [], body=b"{}")

    await capture.step(call(model="claude-x"), fine)
    await capture.stop()
    [record] = _files(tmp_path)
    assert record["response"] == {"status": 502, "error": "nope"}


async def test_limits_remove_the_oldest_files(tmp_path: Path) -> None:
    capture = _capture(tmp_path, max_files=3, retention_hours=1)
    folder = tmp_path / "cap"
    folder.mkdir()
    now = time.time()
    for i in range(6):
        path = folder / f"f{i}.json"
        path.write_text("{}")
        os.utime(path, (now - 100 + i, now - 100 + i))
    old = folder / "ancient.json"
    old.write_text("{}")
    os.utime(old, (now - 7200, now - 7200))
    assert capture.clean() == 4
    assert sorted(p.name for p in folder.iterdir()) == ["f3.json", "f4.json", "f5.json"]
