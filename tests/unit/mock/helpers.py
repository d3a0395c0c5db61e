"""Small helpers to call the engine the way the server does and decode what it returns."""

from __future__ import annotations

from typing import Any

import orjson

from turnout.mock.engine import MockResponse, respond
from turnout.mock.settings import MockSettings


def call(
    path: str,
    body: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    query: str = "",
    method: str = "POST",
    settings: MockSettings | None = None,
) -> MockResponse:
    raw = b"" if body is None else orjson.dumps(body)
    return respond(method, path, query, headers or {}, raw, settings or MockSettings())


def body_json(resp: MockResponse) -> Any:
    assert resp.body is not None, "expected a non-stream body"
    return orjson.loads(resp.body)


def header(resp: MockResponse, name: str) -> str | None:
    return next((v for k, v in resp.headers if k == name), None)


def sse_data(resp: MockResponse) -> list[Any]:
    """The JSON payload of every SSE frame (``[DONE]`` kept as the string)."""
    assert resp.frames is not None, "expected a stream"
    out: list[Any] = []
    for frame in resp.frames:
        for line in frame.decode().splitlines():
            if line.startswith("data: "):
                payload = line[len("data: ") :]
                out.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return out


def sse_events(resp: MockResponse) -> list[tuple[str, Any]]:
    """(event name, data) pairs of an Anthropic stream."""
    assert resp.frames is not None
    out = []
    for frame in resp.frames:
        lines = frame.decode().strip("\n").split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), frame
        out.append((lines[0][len("event: ") :], orjson.loads(lines[1][len("data: ") :])))
    return out
