"""Bedrock as a hostile upstream: event streams whose framing lies (a 4 GiB prelude, lengths
past the frame, wrong checksums), whose payloads are not what they claim, that stop early or
never stop, and that are split at every byte. Whatever it sends, each client (through its
official SDK: Anthropic, OpenAI, Gemini) gets a 502 or an error event in its own protocol:
never a 500, a hang, or a clean end that looks like success, and the gateway lets go of the
upstream connection at once (the hostile upstream sees it closed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.integration.clouds.conftest import requests_seen
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until

KEY_ID = "AKIAHOSTILE000000001"
SECRET = "hostile/aws/secret/access/key/000000000001"
SESSION = "FwoGZXIvYXdzEHostileSessionToken0123456789abcdef"
MESSAGES: Any = [{"role": "user", "content": "hi"}]
SDK_TIMEOUT = 60.0  # far beyond the gateway's own: a hang shows as the SDK's timeout


@pytest.fixture(scope="module")
def gw(hostile: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "routing": {  # one attempt, and no ejection: every request meets the hostile answer
            "max_attempts": 1,
            "backoff": {"base": 0, "max": 0},
            "breaker": {"consecutive_failures": 100000, "min_requests": 100000},
            "cooldowns": {"rate_limited": 0},
        },
        "providers": {
            "bedrock": {
                "type": "bedrock",
                "base_url": hostile.url,
                "api_keys": [f"{KEY_ID}:{SECRET}:{SESSION}"],
                "options": {"region": "us-east-1"},
                "timeouts": {"connect": 5, "read": 20, "total": 30},
            },
        },
        "models": {"*": {"deployments": [{"provider": "bedrock"}]}},
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("hostile-bedrock"), ready_within=60)
    yield proc
    proc.stop()


def _claude(gw: Proc) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0, timeout=SDK_TIMEOUT)


def _openai(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=f"{gw.url}/v1", max_retries=0, timeout=SDK_TIMEOUT)


def _gemini(gw: Proc) -> genai.Client:
    options = types.HttpOptions(
        base_url=f"{gw.url}/", api_version="v1beta", timeout=int(SDK_TIMEOUT * 1000)
    )
    return genai.Client(api_key="k", http_options=options)


def _anthropic_stream(gw: Proc, model: str) -> str:
    with _claude(gw).messages.stream(model=model, max_tokens=16, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    return f"{text}|{final.stop_reason}"


def _openai_stream(gw: Proc, model: str) -> str:
    stream = _openai(gw).chat.completions.create(model=model, messages=MESSAGES, stream=True)
    parts, finish = [], None
    for c in stream:
        if c.choices:
            parts.append(c.choices[0].delta.content or "")
            finish = c.choices[0].finish_reason or finish
    if finish is None:
        raise AssertionError("the stream ended without a finish reason")  # not a success
    return "".join(parts)


def _gemini_stream(gw: Proc, model: str) -> str:
    client = _gemini(gw)  # kept: a client collected mid-stream closes its connections
    chunks = list(client.models.generate_content_stream(model=model, contents="hi"))
    if not chunks or chunks[-1].candidates is None or not chunks[-1].candidates[0].finish_reason:
        raise AssertionError("the stream ended without a finish reason")
    return "".join(c.text or "" for c in chunks)


CLIENTS = {"anthropic": _anthropic_stream, "openai": _openai_stream, "gemini": _gemini_stream}
BROKEN = [
    "huge-prelude",
    "huge-first",
    "short-total",
    "header-overrun",
    "bad-prelude-crc",
    "bad-message-crc",
    "not-json",
    "not-base64",
    "bytes-not-string",
    "inner-not-event",
    "exception-mid",
    "exception-first",
    "cut-mid-frame",
    "ends-early",
    "empty",
    "conv-ends-early",
    "conv-not-object",
    "conv-exception",
    "conv-text-number",
]


EXCEPTION_STATUS = {"exception-first": (429,), "conv-exception": (None, 200, 400)}
SDK_ERRORS = (anthropic.APIError, openai.APIError, genai_errors.APIError)


def _status(exc: BaseException) -> int | None:
    for name in ("status_code", "code"):
        found = getattr(exc, name, None)
        if isinstance(found, int):
            return found
    return None


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_well_formed_stream_split_at_every_byte_is_read_whole(gw: Proc, client: str) -> None:
    assert "Hi" in CLIENTS[client](gw, "anthropic.split")


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("scenario", BROKEN)
def test_a_broken_event_stream_is_an_error_in_the_clients_protocol(
    gw: Proc, hostile: Proc, client: str, scenario: str
) -> None:
    model = scenario if scenario.startswith("conv-") else f"anthropic.{scenario}"
    with pytest.raises(Exception) as caught:
        CLIENTS[client](gw, model)
    exc = caught.value
    assert not isinstance(exc, AssertionError), f"{client}/{scenario}: a clean end ({exc})"
    timeouts = (anthropic.APITimeoutError, openai.APITimeoutError, httpx.TimeoutException)
    assert not isinstance(exc, timeouts), f"{client}/{scenario}: a hang"
    assert isinstance(exc, SDK_ERRORS), f"{client}/{scenario}: {exc!r}"
    # 502 before the answer began; once it has, an error event inside the 200 stream; an
    # exception Bedrock names keeps its own status (a throttling is a 429, a validation a 400).
    expected = EXCEPTION_STATUS.get(scenario, (None, 200, 502))
    assert _status(exc) in expected, f"{client}/{scenario}: {_status(exc)} ({exc})"
    # A stream held open after its fault is let go of at once (the upstream sees it closed).
    mine = [r for r in requests_seen(hostile) if f"/{model}/" in r["path"]]
    assert mine
    if _holds(scenario):
        until(lambda: all(r["closed"] for r in requests_seen(hostile) if f"/{model}/" in r["path"]))


def _holds(scenario: str) -> bool:
    from tests.integration.clouds.hostile import CONVERSE, STREAMS

    found = STREAMS.get(scenario) or CONVERSE.get(scenario)
    return bool(found and found[1])


def _anthropic_once(gw: Proc, model: str) -> str:
    reply = _claude(gw).messages.create(model=model, max_tokens=16, messages=MESSAGES)
    return repr(reply.content)


def _openai_once(gw: Proc, model: str) -> str:
    reply = _openai(gw).chat.completions.create(model=model, messages=MESSAGES)
    return repr(reply.choices[0].message)


def _gemini_once(gw: Proc, model: str) -> str:
    client = _gemini(gw)
    return repr(client.models.generate_content(model=model, contents="hi").candidates)


ONCE = {"anthropic": _anthropic_once, "openai": _openai_once, "gemini": _gemini_once}


@pytest.mark.parametrize("client", sorted(ONCE))
@pytest.mark.parametrize("scenario", ["conv-text-object", "conv-tool-input-list"])
def test_a_converse_answer_of_the_wrong_types_is_a_502(
    gw: Proc, client: str, scenario: str
) -> None:
    # Before, an Anthropic client was handed {"type": "text", "text": {"a": 1}} with a 200.
    with pytest.raises(SDK_ERRORS) as caught:
        ONCE[client](gw, scenario)
    assert _status(caught.value) == 502, caught.value


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_converse_block_index_is_renumbered_not_used_as_a_position(gw: Proc, client: str) -> None:
    # Converse's contentBlockIndex 10**12: Anthropic's index is the block's position, which
    # the Anthropic SDK indexes its list with (an IndexError in the client before).
    tools: Any = [{"name": "f", "input_schema": {"type": "object"}}]
    if client == "anthropic":
        with _claude(gw).messages.stream(
            model="conv-huge-index", max_tokens=16, messages=MESSAGES, tools=tools
        ) as stream:
            final = stream.get_final_message()
        assert final.content[0].type == "tool_use" and final.stop_reason == "tool_use"
    elif client == "openai":
        chunks = list(
            _openai(gw).chat.completions.create(
                model="conv-huge-index", messages=MESSAGES, stream=True
            )
        )
        calls = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
        assert calls and calls[0].index == 0
    else:
        g = _gemini(gw)
        parts = [
            p
            for c in g.models.generate_content_stream(model="conv-huge-index", contents="hi")
            for cand in c.candidates or []
            for p in (cand.content.parts if cand.content else None) or []
        ]
        assert any(p.function_call is not None for p in parts)


def test_endless_tiny_frames_end_in_an_error_not_a_hang(gw: Proc, hostile: Proc) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        _anthropic_stream(gw, "anthropic.endless")
    # The upstream's fault, found out (502), not the attempt's total timeout (504).
    assert caught.value.status_code == 502, caught.value
    until(lambda: any(r["closed"] for r in requests_seen(hostile) if "endless" in r["path"]))


def test_session_token_is_signed_and_never_echoed(gw: Proc, hostile: Proc) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        _claude(gw).messages.create(model="anthropic.echo", max_tokens=8, messages=MESSAGES)
    text = caught.value.response.text
    assert "You sent" in text
    assert SESSION not in text and KEY_ID in text  # the key id is no secret
    reply = _claude(gw).messages.create(model="anthropic.echo-ok", max_tokens=8, messages=MESSAGES)
    block = reply.content[0]
    assert block.type == "text"
    assert SESSION not in block.text and "x-amz-security-token" in block.text
