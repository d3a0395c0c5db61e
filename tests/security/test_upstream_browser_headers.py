"""Headers that direct a browser, or a proxy in front of the gateway, from an upstream: never
relayed.

The gateway relays an upstream's response headers (request ids, processing times, the type)
on the gateway's own origin, the dashboard's origin. Headers addressed to a browser act on
that whole origin: an upstream's ``Clear-Site-Data: "cookies"`` signs the operator out of the
dashboard, ``Access-Control-Allow-Origin: *`` lets any web page read what a simple request
gets (and, doubled beside the gateway's own for a listed origin, breaks every CORS answer),
``NEL``/``Report-To`` make browsers report the origin's requests to the upstream's collector,
``Strict-Transport-Security`` pins the gateway's host to TLS, ``Refresh`` and ``Link`` send a
browser elsewhere or load what the upstream names. The gateway's origin policy is the
gateway's: none of them crosses, on an answer, an error or a stream, whatever their case.
Nor do an upstream's orders to a reverse proxy or a CDN in front of the gateway (internal
redirects, files to send, caching)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.support.procs import Proc, start_gateway, start_scripted

BROWSER = {
    "access-control-allow-origin": "*",
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": "*",
    "clear-site-data": '"cookies", "storage"',
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "refresh": "0; url=https://upstream.example/",
    "link": "<https://upstream.example/x.css>; rel=stylesheet",
    "nel": '{"report_to": "up", "max_age": 86400}',
    "report-to": '{"group": "up", "endpoints": [{"url": "https://upstream.example/r"}]}',
    "reporting-endpoints": 'up="https://upstream.example/r"',
    "permissions-policy": "camera=*",
    "cross-origin-resource-policy": "cross-origin",
    "cross-origin-opener-policy": "unsafe-none",
    "service-worker-allowed": "/",
    "timing-allow-origin": "*",
    "origin-agent-cluster": "?0",
    "referrer-policy": "unsafe-url",
    "x-xss-protection": "1; report=https://upstream.example/r",
}
# Addressed to a reverse proxy or a CDN in front of the gateway: nginx serves an internal
# location for ``X-Accel-Redirect`` and a file for ``X-Sendfile``; a shared cache keeps an
# answer ``public`` or ``s-maxage`` makes cacheable and gives it to the next caller of the URL.
PROXY = {
    "x-accel-redirect": "/internal/secrets",
    "x-accel-limit-rate": "1",
    "x-sendfile": "/etc/passwd",
    "x-lighttpd-send-file": "/etc/passwd",
    "surrogate-control": "max-age=86400",
    "cdn-cache-control": "public, max-age=86400",
    "cache-control": "public, s-maxage=86400, max-age=86400",
    "expires": "Thu, 01 Jan 2099 00:00:00 GMT",
}
# A header neither acts on, relayed as before (the control).
KEPT = {"openai-processing-ms": "7", "x-upstream-note": "kept"}


def _head(kind: str) -> str:
    # The scripted upstream writes ``type`` into its head as it is: a CRLF adds headers.
    # Every other header in mixed case, as some servers write them.
    lines = [
        f"{name.title() if i % 2 else name}: {value}"
        for i, (name, value) in enumerate({**BROWSER, **PROXY, **KEPT}.items())
    ]
    return "\r\n".join([kind, *lines])


CHAT = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-up",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
CHUNK = {
    "id": "c1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "gpt-up",
    "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
}
ERROR = {"error": {"message": "overloaded", "type": "server_error", "code": None}}
ANSWERS = {
    "gpt-up": {"type": _head("application/json"), "chunks": [json.dumps(CHAT)]},
    "gpt-stream": {
        "type": _head("text/event-stream"),
        "chunks": [f"data: {json.dumps(CHUNK)}\n\n", "data: [DONE]\n\n"],
    },
    "gpt-down": {"status": 400, "type": _head("application/json"), "chunks": [json.dumps(ERROR)]},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("browser-headers")
    upstream = start_scripted(ANSWERS, tmp)
    config = {
        "providers": {
            "up": {
                "type": "openai-compatible",
                "base_url": upstream.url + "/v1",
                "api_keys": ["sk-upstream-0001"],
            }
        },
        "models": {"gpt-*": {"deployments": [{"provider": "up"}]}},
    }
    gw = start_gateway(config, tmp)
    try:
        yield gw
    finally:
        gw.stop()
        upstream.stop()


def _check(items: list[tuple[str, str]]) -> None:
    """``multi_items()`` of an answer's headers (httpx's, or the OpenAI SDK's httpx2)."""
    # (A stream's ``cache-control: no-cache`` is the gateway's own.)
    crossed = sorted(n for n, v in (BROWSER | PROXY).items() if (n, v) in items)
    assert crossed == [], crossed
    assert not any(n == "cache-control" and "public" in v for n, v in items), items
    for name, value in KEPT.items():
        assert [v for n, v in items if n == name] == [value], (name, items)


def _client(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="unused", base_url=gw.url + "/v1", max_retries=0)


def test_an_answer_carries_no_browser_directive_of_the_upstream(gateway: Proc) -> None:
    raw = _client(gateway).chat.completions.with_raw_response.create(
        model="gpt-up", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().choices[0].message.content == "hi"
    _check(raw.headers.multi_items())


def test_a_stream_carries_no_browser_directive_of_the_upstream(gateway: Proc) -> None:
    with _client(gateway).chat.completions.with_streaming_response.create(
        model="gpt-stream", messages=[{"role": "user", "content": "hi"}], stream=True
    ) as raw:
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
        assert text == "hi"
        _check(raw.headers.multi_items())


def test_an_error_carries_no_browser_directive_of_the_upstream(gateway: Proc) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _client(gateway).chat.completions.create(
            model="gpt-down", messages=[{"role": "user", "content": "hi"}]
        )
    assert "overloaded" in caught.value.message
    _check(caught.value.response.headers.multi_items())
