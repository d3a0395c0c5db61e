"""``streaming_mode: disabled`` on the in-process mock: every stream variant a client can ask
for comes back whole and well-formed, from a plain upstream answer."""

from __future__ import annotations

import json

import httpx

from turnout.app import Gateway, create_app
from turnout.config import compile_config
from turnout.config.load import parse_raw


def _app() -> Gateway:
    raw = {
        "providers": {"p": {"type": "mock", "streaming_mode": "disabled"}},
        "models": {"m": {"deployments": [{"provider": "p", "model": "mock-up"}]}},
        "storage": {"enabled": False},
    }
    return create_app(compile_config(parse_raw(raw, {}, "t")))


async def test_gemini_json_array_and_sse_streams_and_openai_usage_chunk() -> None:
    app = _app()
    await app.startup()
    try:
        await _check(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"))
    finally:
        await app.shutdown()


async def _check(client: httpx.AsyncClient) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    array = await client.post("/v1beta/models/m:streamGenerateContent", json=body)
    assert array.status_code == 200, array.text
    assert array.headers["content-type"].startswith("application/json")
    chunks = json.loads(array.text)
    assert isinstance(chunks, list) and chunks
    assert "".join(p.get("text", "") for c in chunks
                   for p in c["candidates"][0]["content"]["parts"])  # fmt: skip
    sse = await client.post("/v1beta/models/m:streamGenerateContent?alt=sse", json=body)
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert sse.text.startswith("data: ")
    chat = {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    streamed = await client.post("/v1/chat/completions", json=chat)
    events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    last = json.loads(events[-2])
    assert last["usage"]["completion_tokens"] > 0 and last["choices"] == []


async def test_a_streamed_completion_is_refused_and_a_whole_one_served() -> None:
    """A legacy completion's answer cannot be replayed as a stream (its chunks are not
    chat's): a 400 saying so, before anything is sent; without ``stream`` it is served."""
    app = _app()
    await app.startup()
    try:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        body = {"model": "m", "prompt": "hi", "stream": True}
        refused = await client.post("/v1/completions", json=body)
        assert refused.status_code == 400, refused.text
        assert "cannot be replayed as a stream" in refused.json()["error"]["message"]
        whole = await client.post("/v1/completions", json={**body, "stream": False})
        assert whole.status_code == 200 and "You wrote: hi." in whole.json()["choices"][0]["text"]
    finally:
        await app.shutdown()
