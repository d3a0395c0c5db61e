from __future__ import annotations

import orjson
import pytest

from turnout.errors import (
    BadRequest,
    GatewayError,
    ModelNotFound,
    RateLimited,
    UpstreamTimeout,
    error_body,
    stream_error_frame,
)


@pytest.mark.parametrize("err", [BadRequest("bad", param="model"), ModelNotFound("nope")])
def test_openai_shape(err: GatewayError) -> None:
    body = orjson.loads(error_body(err, "openai"))
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_anthropic_shape() -> None:
    body = orjson.loads(error_body(UpstreamTimeout("slow"), "anthropic"))
    assert body == {"type": "error", "error": {"type": "api_error", "message": "slow"}}


def test_gemini_shape() -> None:
    body = orjson.loads(error_body(RateLimited("later"), "gemini"))
    assert body == {"error": {"code": 429, "message": "later", "status": "RESOURCE_EXHAUSTED"}}


def test_retry_headers() -> None:
    assert (b"x-should-retry", b"false") in BadRequest("x").headers()
    headers = RateLimited("x", retry_after=2.4).headers()
    assert (b"x-should-retry", b"true") in headers and (b"retry-after", b"2") in headers


def test_stream_frames() -> None:
    assert stream_error_frame(UpstreamTimeout("t"), "anthropic").startswith(b"event: error\ndata: ")
    assert stream_error_frame(UpstreamTimeout("t"), "openai").startswith(b'data: {"error"')
