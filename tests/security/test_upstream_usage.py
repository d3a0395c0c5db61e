"""A hostile upstream's token counts on the same-protocol paths (relayed, never translated).

The answer reaches the client as the upstream sent it (forward, don't validate); what the
gateway counts of it (the request log, prices, limits, rollups) must stay a count it can store:
never negative, never past the request log's columns, never a row that stops the writer for
every other call. Each client is its official SDK; the upstream is the scripted one, answering
what each request's ``x-scripted-answer`` header names (tests/security/answers.py), in front
of a gateway whose request log is on PostgreSQL (whose token columns are 32-bit integers).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import asyncpg
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.contract.pg import asyncpg_url, fresh_database
from tests.security.answers import header, whole
from tests.support.procs import Proc, start_gateway, start_scripted
from tests.support.request_log import request_line
from tests.support.wait import until

pytestmark = pytest.mark.timeout(180)

# Upstream protocol -> (provider type, base path suffix, deployment extras).
UPSTREAMS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "chat": ("openai-compatible", "/v1", {}),
    "messages": ("anthropic", "", {}),
    "gemini": ("gemini", "", {}),
    "responses": ("openai", "/v1", {"api": "responses"}),
}
INT4 = 2**31 - 1  # PostgreSQL's INTEGER: the request log's token columns
CHAT: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with fresh_database("syusage") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Proc]:
    tmp = Path(tmp_path_factory.mktemp("usage"))
    upstream = start_scripted({}, tmp)
    providers = {
        name: {
            "type": kind,
            "base_url": upstream.url + suffix,
            "api_keys": ["k-00000001"],
            "forward_headers": ["x-scripted-*"],
        }
        for name, (kind, suffix, _) in UPSTREAMS.items()
    }
    price = {"input": 1.0, "output": 2.0}
    models = {
        f"to-{name}": {"deployments": [{"provider": name, "model": "up", "price": price, **extra}]}
        for name, (_, _, extra) in UPSTREAMS.items()
    }
    config = {
        "storage": {"flush_interval": 0.05, "batch_size": 50},
        "providers": providers,
        "models": models,
        "routing": {"max_attempts": 1},
    }
    proc = start_gateway(config, tmp, env={"TURNOUT_DATABASE_URL": asyncpg_url(database)})
    yield proc
    proc.stop()
    upstream.stop()


# -- the upstream's answers, with the usage object given ------------------------------------


def _sse(*events: Any, named: bool = False) -> list[str]:
    out = []
    for data in events:
        head = f"event: {data['type']}\n" if named else ""
        out.append(f"{head}data: {json.dumps(data)}\n\n")
    return out


def _chat(usage: Any, stream: bool) -> dict[str, Any]:
    if not stream:
        message = {"role": "assistant", "content": "hi"}
        return whole(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": "up",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
            }
        )
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up"}
    chunks = _sse(
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**base, "choices": [], "usage": usage},
    )
    return header({"type": "text/event-stream", "chunks": [*chunks, "data: [DONE]\n\n"]})


def _messages(usage: Any, stream: bool) -> dict[str, Any]:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "up",
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    if not stream:
        return whole({**message, "content": [{"type": "text", "text": "hi"}]})
    chunks = _sse(
        {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": usage},
        {"type": "message_stop"},
        named=True,
    )
    return header({"type": "text/event-stream", "chunks": chunks})


def _gemini(usage: Any, stream: bool) -> dict[str, Any]:
    candidate = {"content": {"role": "model", "parts": [{"text": "hi"}]}, "index": 0}
    body = {
        "candidates": [{**candidate, "finishReason": "STOP"}],
        "usageMetadata": usage,
        "modelVersion": "up",
    }
    if not stream:
        return whole(body)
    first = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "up"}
    return header({"type": "text/event-stream", "chunks": _sse(first, body)})


def _responses(usage: Any, stream: bool) -> dict[str, Any]:
    text = {"type": "output_text", "text": "hi", "annotations": []}
    item = {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [text],
    }
    response = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "up",
        "output": [item],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }
    if not stream:
        return whole(response)
    started = {**response, "status": "in_progress", "output": [], "usage": None}
    chunks = _sse(
        {"type": "response.created", "sequence_number": 0, "response": started},
        {
            "type": "response.output_text.delta",
            "sequence_number": 1,
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": "hi",
            "logprobs": [],
        },
        {"type": "response.completed", "sequence_number": 2, "response": response},
        named=True,
    )
    return header({"type": "text/event-stream", "chunks": chunks})


def usage_of(protocol: str, n: Any) -> dict[str, Any]:
    """A usage object of ``protocol`` holding ``n`` in every count, nested ones too."""
    if protocol == "chat":
        return {
            "prompt_tokens": n,
            "completion_tokens": n,
            "total_tokens": n,
            "prompt_tokens_details": {"cached_tokens": n},
            "completion_tokens_details": {"reasoning_tokens": n},
        }
    if protocol == "messages":
        return {
            "input_tokens": n,
            "output_tokens": n,
            "cache_read_input_tokens": n,
            "cache_creation_input_tokens": n,
        }
    if protocol == "gemini":
        return {
            "promptTokenCount": n,
            "candidatesTokenCount": n,
            "totalTokenCount": n,
            "cachedContentTokenCount": n,
            "thoughtsTokenCount": n,
            "toolUsePromptTokenCount": n,
        }
    return {
        "input_tokens": n,
        "output_tokens": n,
        "total_tokens": n,
        "input_tokens_details": {"cached_tokens": n},
        "output_tokens_details": {"reasoning_tokens": n},
    }


ANSWERS = {"chat": _chat, "messages": _messages, "gemini": _gemini, "responses": _responses}


# -- each protocol's official client ---------------------------------------------------------


def _ask(gw: Proc, protocol: str, headers: dict[str, str], stream: bool) -> tuple[str, Any]:
    """One call through the protocol's SDK: its request id and the usage the client read."""
    rid = uuid.uuid4().hex
    headers = {**headers, "x-request-id": rid}
    model = f"to-{protocol}"
    if protocol == "chat":
        chat = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0).chat
        if not stream:
            answer = chat.completions.create(model=model, messages=CHAT, extra_headers=headers)
            assert answer.choices[0].message.content == "hi"
            return rid, answer.model_dump(exclude_none=True).get("usage")
        chunks = list(
            chat.completions.create(
                model=model,
                messages=CHAT,
                stream=True,
                stream_options={"include_usage": True},
                extra_headers=headers,
            )
        )
        assert chunks[0].choices[0].delta.content == "hi"
        return rid, chunks[-1].model_dump(exclude_none=True).get("usage")
    if protocol == "messages":
        claude = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
        if not stream:
            message = claude.messages.create(
                model=model, max_tokens=8, messages=CHAT, extra_headers=headers
            )
            assert message.content[0].type == "text" and message.content[0].text == "hi"
            return rid, message.model_dump(exclude_none=True).get("usage")
        raw = list(
            claude.messages.create(
                model=model, max_tokens=8, messages=CHAT, stream=True, extra_headers=headers
            )
        )
        assert raw[-1].type == "message_stop"
        return rid, raw[-2].model_dump(exclude_none=True).get("usage")
    if protocol == "gemini":
        client = genai.Client(
            api_key="unused",
            http_options=gtypes.HttpOptions(base_url=gw.url, headers=headers),
        )
        if not stream:
            reply = client.models.generate_content(model=model, contents="hi")
            assert reply.text == "hi"
            return rid, reply.model_dump(exclude_none=True).get("usage_metadata")
        parts = list(client.models.generate_content_stream(model=model, contents="hi"))
        assert parts[0].text == "hi"
        return rid, parts[-1].model_dump(exclude_none=True).get("usage_metadata")
    responses = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0).responses
    if not stream:
        response = responses.create(model=model, input="hi", extra_headers=headers)
        assert response.output_text == "hi"
        return rid, response.model_dump(exclude_none=True).get("usage")
    events = list(responses.create(model=model, input="hi", stream=True, extra_headers=headers))
    assert events[-1].type == "response.completed"
    return rid, events[-1].response.model_dump(exclude_none=True).get("usage")


async def _stored(dsn: str) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT request_id, input_tokens, output_tokens, cached_tokens, reasoning_tokens, "
            "cost FROM request_log"
        )
    finally:
        await conn.close()
    return {r["request_id"]: dict(r) for r in rows}


def stored(dsn: str) -> dict[str, dict[str, Any]]:
    return asyncio.run(_stored(dsn))


def _log_up(gw: Proc) -> float:
    for line in httpx.get(gw.url + "/metrics").text.splitlines():
        if line.startswith("turnout_request_log_up "):
            return float(line.split()[-1])
    raise AssertionError("turnout_request_log_up not in /metrics")


def _fits(line: dict[str, Any]) -> None:
    for name in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"):
        n = line.get(name)
        assert n is None or (type(n) is int and 0 <= n <= INT4), (name, n)
    assert line.get("cost") is None or line["cost"] >= 0


@pytest.mark.parametrize("stream", [False, True], ids=["body", "stream"])
@pytest.mark.parametrize("protocol", list(UPSTREAMS))
def test_a_count_past_the_request_logs_columns_loses_no_row(
    gateway: Proc, database: str, protocol: str, stream: bool
) -> None:
    """Before: any count from 2**31 to 2**53 was believed, and PostgreSQL's driver refused the
    row (``value out of int32 range``) as if the database were down: the writer spooled the
    batch, every other call's rows with it, and failed the same way at every replay, so the
    request log stopped for everyone until the spool filled and rows were dropped."""
    answer = ANSWERS[protocol]
    hostile, seen = _ask(gateway, protocol, answer(usage_of(protocol, 2**31), stream), stream)
    assert seen is not None  # the client read the upstream's usage, as it came
    plain, _ = _ask(gateway, protocol, answer(usage_of(protocol, 3), stream), stream)
    until(lambda: {hostile, plain} <= set(stored(database)), 30, step=0.1)
    rows = stored(database)
    _fits(rows[hostile])
    assert rows[plain]["output_tokens"] in (3, 6)  # Gemini's output counts thoughts too
    assert _log_up(gateway) == 1.0


# Values no count may be taken as: negative, fractional, boolean, text, nested, huge, and
# integers past every column and every 64-bit sum.
ODD: list[Any] = [-5, -(2**63), 7.5, True, "12", {"n": 1}, [1], 1e300, 2**63 + 1, 2**70]


@pytest.mark.parametrize("stream", [False, True], ids=["body", "stream"])
@pytest.mark.parametrize("protocol", list(UPSTREAMS))
def test_odd_counts_reach_the_client_unchanged_and_count_within_bounds(
    gateway: Proc, protocol: str, stream: bool
) -> None:
    """Every odd value in every count field of a relayed answer: the client's SDK reads the
    upstream's own usage (whatever its types make of it: the gateway relays it as it came),
    and the request line counts a non-negative integer that fits the request log, at a cost
    that never credits a budget."""
    for value in ODD:
        usage = usage_of(protocol, value)
        if protocol == "gemini":  # google-genai's types refuse the answer: read it raw
            rid = _ask_gemini_raw(gateway, ANSWERS[protocol](usage, stream), stream, usage)
        else:
            rid, seen = _ask(gateway, protocol, ANSWERS[protocol](usage, stream), stream)
            assert seen is not None  # the SDK read the upstream's usage, whatever it made of it
        _fits(request_line(gateway, rid))


def _ask_gemini_raw(gw: Proc, headers: dict[str, str], stream: bool, usage: Any) -> str:
    """google-genai validates ``usageMetadata`` and raises on a count of ``7.5``: the answer
    is the upstream's, relayed as it came, which is what is checked here."""
    rid = uuid.uuid4().hex
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    reply = httpx.post(
        f"{gw.url}/v1beta/models/to-gemini:{verb}",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        headers={**headers, "x-request-id": rid, "x-goog-api-key": "unused"},
    )
    assert reply.status_code == 200
    if stream:
        last = [x for x in reply.text.split("\n") if x.startswith("data: ")][-1]
        assert json.loads(last[6:])["usageMetadata"] == usage
    else:
        assert reply.json()["usageMetadata"] == usage
    return rid


@pytest.mark.parametrize("usage", ["x", 5, [1, 2], True], ids=["text", "number", "list", "bool"])
@pytest.mark.parametrize("stream", [False, True], ids=["body", "stream"])
def test_a_usage_that_is_no_object_counts_no_usage(gateway: Proc, usage: Any, stream: bool) -> None:
    rid = uuid.uuid4().hex
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    headers = {**_chat(usage, stream), "x-request-id": rid}
    raw = client.chat.completions.with_raw_response.create(
        model="to-chat", messages=CHAT, stream=stream, extra_headers=headers
    )
    if not stream:
        assert raw.http_response.json()["usage"] == usage  # relayed as it came
    else:
        assert json.dumps(usage) in raw.http_response.read().decode()  # as the upstream wrote it
    line = request_line(gateway, rid)
    assert line["status"] == 200
    _fits(line)


def test_a_stream_repeating_its_usage_counts_the_last_once(gateway: Proc) -> None:
    """10,000 usage chunks, each a count past the columns but the last: the last is the
    stream's count, kept once (the scan remembers one occurrence, not all of them)."""
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up"}
    chunk = _sse({**base, "choices": [], "usage": usage_of("chat", 2**40)})[0]
    last = _sse({**base, "choices": [], "usage": usage_of("chat", 4)})[0]
    first = _sse({**base, "choices": [{"index": 0, "delta": {"content": "hi"}}]})[0]
    answer = {
        "type": "text/event-stream",
        "chunks": [first],
        "repeat": {"chunk": chunk, "times": 10_000},
        "after": [last, "data: [DONE]\n\n"],
    }
    rid = uuid.uuid4().hex
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="to-chat",
            messages=CHAT,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={**header(answer), "x-request-id": rid},
        )
    )
    assert len(chunks) == 10_002
    line = request_line(gateway, rid)
    assert (line["input_tokens"], line["output_tokens"]) == (4, 4)


def test_embeddings_counts_past_the_columns_lose_no_row(gateway: Proc, database: str) -> None:
    body = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}],
        "model": "up",
        "usage": {"prompt_tokens": 2**31 + 7, "total_tokens": -1},
    }
    rid = uuid.uuid4().hex
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    answer = client.embeddings.create(
        model="to-chat",
        input="hi",
        encoding_format="float",
        extra_headers={**whole(body), "x-request-id": rid},
    )
    assert answer.data[0].embedding == [0.5, 0.25]
    assert answer.usage.prompt_tokens == 2**31 + 7  # the client's answer is the upstream's
    until(lambda: rid in stored(database), 30, step=0.1)
    _fits(stored(database)[rid])
