"""Every error the core promises, as the official SDK's typed exception and as raw JSON."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc

MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
def client(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-client", base_url=gateway.url + "/v1", max_retries=0)


def _error(r: httpx.Response) -> dict[str, object]:
    body = r.json()
    assert set(body) == {"error"}
    assert {"message", "type", "code"} <= set(body["error"])
    return body["error"]  # type: ignore[no-any-return]


def test_malformed_json_is_400(gateway: Proc) -> None:
    r = httpx.post(gateway.url + "/v1/chat/completions", content=b'{"model": ')
    assert r.status_code == 400
    assert "JSON" in str(_error(r)["message"])
    assert r.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("body", [b"{}", b'{"model": 3}', b"[1, 2]", b'"str"', b""])
def test_missing_or_wrong_model_is_400(gateway: Proc, body: bytes) -> None:
    r = httpx.post(gateway.url + "/v1/chat/completions", content=body)
    assert r.status_code == 400
    _error(r)


def test_unknown_model_is_404_listing_models(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-nope", messages=MESSAGES)
    assert "gpt-test" in info.value.message and "gpt-nope" in info.value.message


def test_body_over_limit_is_413(client: openai.OpenAI, gateway: Proc) -> None:
    big = [{"role": "user", "content": "x" * 300_000}]
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="gpt-test", messages=big)  # type: ignore[arg-type]
    assert info.value.status_code == 413

    # Without a Content-Length (chunked upload) the limit still holds.
    def gen() -> object:
        for _ in range(30):
            yield b"x" * 10_000

    r = httpx.post(gateway.url + "/v1/chat/completions", content=gen())  # type: ignore[arg-type]
    assert r.status_code == 413


def test_upstream_unreachable_is_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="dead-model", messages=MESSAGES)
    assert info.value.status_code == 502


def test_upstream_timeout_is_504(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="slow-model", messages=MESSAGES)
    assert info.value.status_code == 504


# 401/403 (the gateway's provider key) and 429 (cooldown) are routing decisions, not pass-through:
# tests/integration/test_routing.py covers them.
@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (404, openai.NotFoundError),
        (422, openai.UnprocessableEntityError),
        (500, openai.InternalServerError),
    ],
)
def test_upstream_errors_pass_through(
    client: openai.OpenAI, status: int, exc: type[Exception]
) -> None:
    with pytest.raises(exc) as info:
        client.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            extra_headers={"x-mock-status": str(status)},
        )
    assert info.value.status_code == status  # type: ignore[attr-defined]
    assert isinstance(info.value.body, dict)  # type: ignore[attr-defined]


def test_unknown_route_is_404_json(gateway: Proc) -> None:
    r = httpx.get(gateway.url + "/v1/nothing-here")
    assert r.status_code == 404
    _error(r)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/v1/models"])
def test_head_answers_as_get_without_the_body(gateway: Proc, path: str) -> None:
    """Load balancers check health with HEAD (RFC 9110: a server supporting GET supports
    HEAD). Before (2026-12-08) every HEAD was a 404, so such a check took the gateway out."""
    got = httpx.get(gateway.url + path)
    head = httpx.head(gateway.url + path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["content-type"] == got.headers["content-type"]


def test_gateway_survives_garbage(gateway: Proc) -> None:
    for body in (b"\xff\xfe\x00", b"{" * 10_000, b'{"model": "gpt-test", "messages": 5}'):
        httpx.post(gateway.url + "/v1/chat/completions", content=body)
    assert httpx.get(gateway.url + "/healthz").status_code == 200
