"""Issue 12 item 8: garbage from an upstream must never become success, nor an empty reply.

Before: a 200 ``{"foo": 1}`` on a translated route became an empty successful message, an
upstream status outside 100-599 (``999``) left the client with an empty reply, and an upstream
body had no size cap (a 50 MB body was relayed at 323 MB peak memory). Now each is a 502 in the
client's own protocol, and the gateway logs ``upstream answer rejected`` with the reason.

A hostile upstream (tests/support/rogue.py) plays each fault, chosen by the static headers of
the provider in front of it; every model has one deployment and one attempt, so the 502 is
the gateway's verdict on that one answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.procs import Proc, start_gateway, start_rogue
from tests.support.request_log import request_line

KINDS = {"openai": "openai-compatible", "anthropic": "anthropic", "gemini": "gemini"}
CHAT: Any = [{"role": "user", "content": "hi"}]
BIG = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def rogue() -> Iterator[Proc]:
    proc = start_rogue()
    yield proc
    proc.stop()


def _provider(rogue: Proc, kind: str, **headers: str) -> dict[str, Any]:
    base = rogue.url + ("/v1" if kind == "openai" else "")
    return {
        "type": KINDS[kind],
        "base_url": base,
        "api_keys": ["sk-up-000001"],
        "headers": headers,
        **({"max_response_bytes": 0} if headers.get("x-rogue-body-bytes") == "2000000" else {}),
    }


# An answer every protocol reads as a valid one, with the usage counts ``usage`` gives.
def _answer(usage: dict[str, Any], metadata: dict[str, Any]) -> Any:
    return {
        "id": "x-1",
        "type": "message",
        "role": "assistant",
        "model": "up",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}
        ],
        "usage": usage,
        "usageMetadata": metadata,
    }


# Counts of the wrong types: a translation's shape check refuses them (502); a relayed answer
# goes through and counts nothing.
USAGE_GARBAGE = _answer(
    {
        "prompt_tokens": "12",
        "completion_tokens": [3],
        "total_tokens": True,
        "prompt_tokens_details": "cached",
        "completion_tokens_details": 5,
        "input_tokens": {"n": 1},
        "output_tokens": "3",
    },
    {"promptTokenCount": "9", "thoughtsTokenCount": [1]},
)
# Integers a shape check lets through that no upstream could mean: counted as 0.
HUGE = 1 << 60
USAGE_OUT_OF_RANGE = _answer(
    {"prompt_tokens": -5, "completion_tokens": HUGE, "input_tokens": -5, "output_tokens": HUGE},
    {"promptTokenCount": -5, "candidatesTokenCount": HUGE},
)

FAULTS: dict[str, dict[str, str]] = {
    "foo": {"x-rogue-body": '{"foo": 1}'},
    "wrongtype": {"x-rogue-body": '{"content": "x", "choices": "x", "candidates": "x"}'},
    "status999": {"x-rogue-status": "999"},
    "big": {"x-rogue-body-bytes": str(BIG)},
    "badheader": {"x-rogue-bad-header": "1"},
    "nocap": {"x-rogue-body-bytes": "2000000"},
    "sse-wrongtype": {"x-rogue-sse": "1", "x-rogue-body": 'data: {"choices": "x"}'},
    "sse-endless": {"x-rogue-sse": "1", "x-rogue-body-bytes": str(20 * 1024 * 1024)},
    "usage": {"x-rogue-body": json.dumps(USAGE_GARBAGE)},
    "range": {"x-rogue-body": json.dumps(USAGE_OUT_OF_RANGE)},
    "count": {"x-rogue-body": '{"input_tokens": -5, "totalTokens": -5}'},
    "huge": {"x-rogue-body": '{"input_tokens": 18446744073709551615, "totalTokens": true}'},
}


@pytest.fixture(scope="module")
def gateway(rogue: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    providers = {
        f"{fault}-{kind}": _provider(rogue, kind, **headers)
        for fault, headers in FAULTS.items()
        for kind in KINDS
    }
    models = {name: {"deployments": [{"provider": name, "model": "up"}]} for name in providers}
    config = {
        "storage": {"enabled": False},
        "routing": {"max_attempts": 1, "breaker": {"consecutive_failures": 1000000}},
        "providers": providers,
        "models": models,
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("garbage"))
    yield proc
    proc.stop()


def _openai(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


def _refused(gateway: Proc, model: str) -> openai.InternalServerError:
    """The OpenAI SDK's error for a chat completion the gateway answered with a 5xx."""
    with pytest.raises(openai.InternalServerError) as caught:
        _openai(gateway).chat.completions.create(model=model, messages=CHAT)
    return caught.value


def _rejections(gateway: Proc) -> list[dict[str, Any]]:
    out = []
    for line in gateway.output().splitlines():
        if '"upstream answer rejected"' in line:
            out.append(json.loads(line))
    return out


@pytest.mark.parametrize("upstream", ["anthropic", "gemini"])
@pytest.mark.parametrize("fault", ["foo", "wrongtype"])
def test_a_translated_answer_without_its_fields_is_a_502_not_an_empty_message(
    gateway: Proc, upstream: str, fault: str
) -> None:
    error = _refused(gateway, f"{fault}-{upstream}")
    assert error.status_code == 502
    assert error.code == "upstream_invalid_response"
    assert any(r["provider"] == f"{fault}-{upstream}" for r in _rejections(gateway))


def test_the_anthropic_client_gets_its_own_error_shape(gateway: Proc) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="foo-openai", max_tokens=8, messages=CHAT)
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert "choices: missing" in caught.value.body["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_a_status_outside_the_http_range_is_a_502_not_an_empty_reply(
    gateway: Proc, kind: str
) -> None:
    error = _refused(gateway, f"status999-{kind}")
    assert error.status_code == 502
    reasons = [r["reason"] for r in _rejections(gateway) if r["provider"] == f"status999-{kind}"]
    assert reasons and "999" in reasons[0]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_an_upstream_body_over_the_cap_is_refused(gateway: Proc, kind: str) -> None:
    """The default cap (32 MiB) refuses the issue's 50 MB body, relayed or translated."""
    error = _refused(gateway, f"big-{kind}")
    assert "max_response_bytes" in error.message
    assert any("max_response_bytes" in r["reason"] for r in _rejections(gateway))


def test_a_cap_of_zero_is_off(gateway: Proc) -> None:
    reply = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "nocap-openai", "messages": CHAT}
    )
    assert reply.status_code == 200 and len(reply.content) == 2_000_000


def test_an_unwritable_upstream_header_is_a_502_not_an_empty_reply(gateway: Proc) -> None:
    reply = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "badheader-openai", "messages": CHAT}
    )
    assert reply.status_code == 502
    assert reply.json()["error"]["type"] == "api_error"


@pytest.mark.parametrize("fault", ["sse-wrongtype", "sse-endless"])
def test_a_translated_stream_of_garbage_is_a_502(gateway: Proc, fault: str) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=f"{fault}-openai", max_tokens=8, messages=CHAT) as stream,
    ):
        list(stream)
    assert caught.value.status_code == 502
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_a_relayed_answer_with_garbage_usage_goes_through_and_counts_nothing(
    gateway: Proc,
) -> None:
    """Usage is read from a relayed answer only to count it: counts that are not
    non-negative integers count as 0 (they were a 500 for every such answer), and the client
    gets the upstream's bytes as they came."""
    reply = _openai(gateway).chat.completions.with_raw_response.create(
        model="usage-openai", messages=CHAT
    )
    assert reply.parse().choices[0].message.content == "hi"
    assert json.loads(reply.http_response.content)["usage"] == USAGE_GARBAGE["usage"]
    line = request_line(gateway, reply.headers["x-request-id"])
    assert (line["status"], line["input_tokens"], line["output_tokens"]) == (200, 0, 0)


@pytest.mark.parametrize("upstream", ["anthropic", "gemini"])
def test_a_translated_answer_with_counts_of_the_wrong_types_is_a_502(
    gateway: Proc, upstream: str
) -> None:
    error = _refused(gateway, f"usage-{upstream}")
    assert error.status_code == 502 and "usage" in error.message


@pytest.mark.parametrize("upstream", ["openai", "anthropic", "gemini"])
def test_counts_out_of_range_count_as_zero(gateway: Proc, upstream: str) -> None:
    """A negative count or one past MAX_TOKENS (10**8) is 0 in a translated answer and in the
    request line (and so in prices, limits and rows)."""
    reply = _openai(gateway).chat.completions.with_raw_response.create(
        model=f"range-{upstream}", messages=CHAT
    )
    answer = reply.parse()
    assert answer.choices[0].message.content == "hi"
    if upstream != "openai":
        assert answer.usage is not None
        assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (0, 0)
    line = request_line(gateway, reply.headers["x-request-id"])
    assert (line["status"], line["input_tokens"], line["output_tokens"]) == (200, 0, 0)
    client = anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
    message = client.messages.create(model=f"range-{upstream}", max_tokens=8, messages=CHAT)
    if upstream != "anthropic":
        assert (message.usage.input_tokens, message.usage.output_tokens) == (0, 0)


@pytest.mark.parametrize("fault", ["count", "huge"])
@pytest.mark.parametrize("upstream", ["anthropic", "gemini"])
def test_a_translated_token_count_out_of_range_is_a_502(
    gateway: Proc, fault: str, upstream: str
) -> None:
    """Before: a negative count, ``true`` (1) or 2**64-1 went through to the client as the size
    of its prompt; now a count is what every usage reader takes (a non-negative integer up to
    MAX_TOKENS, 10**8), else the answer has none."""
    client = anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
    model = f"{fault}-{upstream}"
    if upstream == "anthropic":  # same protocol: relayed; a Responses client's is translated
        reply = httpx.post(
            gateway.url + "/v1/responses/input_tokens", json={"model": model, "input": "hi"}
        )
        assert reply.status_code == 502 and "no count" in reply.json()["error"]["message"]
        return
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.count_tokens(model=model, messages=CHAT)
    assert caught.value.status_code == 502
