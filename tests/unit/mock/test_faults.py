"""Fault selection in the engine and its playback by the timing helpers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from tests.unit.mock.helpers import body_json, call, sse_data, sse_events
from turnout.mock.engine import MockResponse
from turnout.mock.settings import MockSettings
from turnout.mock.timing import MockDisconnect, iter_frames, read_body

OPENAI = ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
ANTHROPIC = (
    "/v1/messages",
    {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
)
GEMINI = ("/v1beta/models/g:streamGenerateContent", {"contents": [{"parts": [{"text": "hi"}]}]})


def stream(target: tuple[str, dict[str, Any]], fault: str, tokens: int = 10) -> MockResponse:
    path, body = target
    body = {**body, "stream": True} if "stream" not in path.lower() else body
    query = "alt=sse" if "stream" in path.lower() else ""
    headers = {"x-mock-fault": fault, "x-mock-tokens": str(tokens)}
    return call(path, body, headers=headers, query=query)


def test_truncate_drops_only_the_terminator() -> None:
    full = sse_data(stream(OPENAI, "none"))
    cut = sse_data(stream(OPENAI, "truncate"))
    assert full[-1] == "[DONE]" and len(cut) == len(full) - 1
    assert cut[-1]["choices"][0]["finish_reason"] == "stop"  # everything but [DONE]
    names = [n for n, _ in sse_events(stream(ANTHROPIC, "truncate"))]
    assert names[-1] == "message_delta" and "message_stop" not in names
    chunks = sse_data(stream(GEMINI, "truncate"))
    assert all("finishReason" not in c["candidates"][0] for c in chunks)


def test_malformed_stream_inserts_a_garbage_frame() -> None:
    for target in (OPENAI, ANTHROPIC, GEMINI):
        resp = stream(target, "malformed")
        assert resp.frames is not None
        with pytest.raises(orjson.JSONDecodeError):
            sse_data(resp)


def test_error_midstream_frames() -> None:
    data = sse_data(stream(OPENAI, "error-midstream"))
    assert "error" in data[-1] and "[DONE]" not in data
    assert any(c.get("choices") for c in data[:-1])  # some content got through first
    events = sse_events(stream(ANTHROPIC, "error-midstream"))
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["type"] == "overloaded_error"
    chunks = sse_data(stream(GEMINI, "error-midstream"))
    assert chunks[-1]["error"]["code"] == 500 and "candidates" in chunks[0]


def test_non_stream_faults() -> None:
    path, body = OPENAI
    resp = call(path, body, headers={"x-mock-fault": "malformed"})
    assert resp.status == 200
    with pytest.raises(orjson.JSONDecodeError):
        body_json(resp)
    resp = call(path, body, headers={"x-mock-fault": "error-midstream"})
    assert resp.status == 500 and body_json(resp)["error"]["type"] == "server_error"
    for fault in ("disconnect", "hang", "truncate"):
        resp = call(path, body, headers={"x-mock-fault": fault})
        assert resp.fault == fault and resp.body is not None and body_json(resp)["choices"]


def test_server_defaults_apply_and_headers_win() -> None:
    path, body = OPENAI
    settings = MockSettings(status=503, fault="hang")
    assert call(path, body, settings=settings).status == 503
    resp = call(
        path, body, settings=settings, headers={"x-mock-status": "200", "x-mock-fault": "none"}
    )
    assert resp.status == 200 and resp.fault is None
    listing = call("/v1/models", method="GET", settings=settings)  # readiness probe unaffected
    assert listing.status == 200 and listing.fault is None


async def collect(resp: MockResponse) -> list[bytes]:
    return [frame async for frame in iter_frames(resp)]


async def test_iter_frames_disconnect_after_half() -> None:
    resp = stream(OPENAI, "disconnect", tokens=10)
    assert resp.frames is not None
    seen: list[bytes] = []
    with pytest.raises(MockDisconnect):
        async for frame in iter_frames(resp):
            seen.append(frame)
    assert 1 <= len(seen) < len(resp.frames)
    assert seen == resp.frames[: len(seen)]


async def test_iter_frames_hang_blocks_until_cancelled() -> None:
    resp = stream(ANTHROPIC, "hang")
    seen: list[bytes] = []

    async def consume() -> None:
        async for frame in iter_frames(resp):
            seen.append(frame)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(consume(), 0.2)
    assert seen and resp.frames is not None and len(seen) < len(resp.frames)


async def test_iter_frames_delays() -> None:
    path, body = OPENAI
    headers = {"x-mock-ttft-ms": "60", "x-mock-chunk-ms": "10", "x-mock-tokens": "4"}
    resp = call(path, {**body, "stream": True}, headers=headers)
    start = time.perf_counter()
    frames = await collect(resp)
    elapsed = time.perf_counter() - start
    assert frames == resp.frames
    assert elapsed >= 0.06 + 0.01 * (len(frames) - 1) * 0.9


async def test_read_body_faults() -> None:
    path, body = OPENAI
    resp = call(path, body, headers={"x-mock-ttft-ms": "30"})
    start = time.perf_counter()
    assert await read_body(resp) == resp.body
    assert time.perf_counter() - start >= 0.03
    for fault in ("disconnect", "truncate"):
        with pytest.raises(MockDisconnect):
            await read_body(call(path, body, headers={"x-mock-fault": fault}))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(read_body(call(path, body, headers={"x-mock-fault": "hang"})), 0.1)
