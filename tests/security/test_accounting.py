"""A client must not be able to make a call count fewer tokens than it used.

Usage is read from the bytes an upstream answers (turnout/usage/scan.py) for the request log,
prices, token limits and budgets. These tests play a client that shapes its request so the
answer hides its real usage, through the official SDK, against the mock provider (which
answers like OpenAI, echoes included) behind a real gateway.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.procs import Proc, scripted_requests, start_gateway, start_mock, start_scripted
from tests.support.request_log import request_line
from tests.support.wait import until

CHAT: Any = [{"role": "user", "content": "hi"}]
# Enough output that the answer body is scanned for its usage rather than parsed whole.
TOKENS = {"x-mock-tokens": "600"}


@pytest.fixture(scope="module")
def mock() -> Iterator[Proc]:
    proc = start_mock()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "storage": {"enabled": False},
        "providers": {
            "up": {
                "type": "openai",
                "base_url": mock.url + "/v1",
                "api_keys": ["sk-up-000000001"],
                "forward_headers": ["x-mock-*"],
            }
        },
        "models": {"gpt-*": {"deployments": [{"provider": "up"}]}},
    }
    proc = start_gateway(config, Path(tmp_path_factory.mktemp("accounting")))
    yield proc
    proc.stop()


def _client(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


def _counted(gateway: Proc, request_id: str) -> tuple[int, int]:
    line = request_line(gateway, request_id)
    return line["input_tokens"], line["output_tokens"]


def test_a_metadata_key_named_usage_does_not_hide_a_responses_answer_usage(
    gateway: Proc,
) -> None:
    """A Responses answer echoes the request's ``metadata`` after its ``usage``: the key
    ``usage`` there (a string, as OpenAI requires) was the last one in the body, so the call
    was logged and settled without its tokens."""
    reply = _client(gateway).responses.with_raw_response.create(
        model="gpt-x", input="hi", metadata={"usage": "x"}, extra_headers=TOKENS
    )
    usage = reply.parse().usage
    assert usage is not None and usage.output_tokens == 600
    assert _counted(gateway, reply.headers["x-request-id"]) == (usage.input_tokens, 600)


def test_a_metadata_key_named_usage_does_not_hide_a_responses_stream_usage(
    gateway: Proc,
) -> None:
    with _client(gateway).responses.with_streaming_response.create(
        model="gpt-x", input="hi", metadata={"usage": "x"}, stream=True, extra_headers=TOKENS
    ) as reply:
        request_id = reply.headers["x-request-id"]
        events = list(reply.parse())
    done = events[-1]
    assert done.type == "response.completed" and done.response.usage is not None
    usage = done.response.usage
    assert usage.output_tokens == 600
    assert _counted(gateway, request_id) == (usage.input_tokens, 600)


# Streams whose content is all sent and whose last events (the usage) are held back until the
# gateway closes the connection: a client that leaves at the last text never lets them come.
WORDS = 300


def _sse(*events: tuple[str | None, Any]) -> list[str]:
    out = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {json.dumps(data)}\n\n")
    return out


def _openai_chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return None, {"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}


def _anthropic(name: str, **fields: Any) -> tuple[str, Any]:
    return name, {"type": name, **fields}


HELD = {
    "cut-openai": _sse(
        _openai_chunk({"role": "assistant", "content": ""}),
        *[_openai_chunk({"content": "word "}) for _ in range(WORDS)],
        _openai_chunk({}, "stop"),
    ),
    "cut-anthropic": _sse(
        _anthropic(
            "message_start",
            message={
                "id": "m",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [],
                "usage": {"input_tokens": 3, "output_tokens": 1},
            },
        ),
        _anthropic("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        *[
            _anthropic(
                "content_block_delta", index=0, delta={"type": "text_delta", "text": "word "}
            )
            for _ in range(WORDS)
        ],
        _anthropic("content_block_stop", index=0),
    ),
}


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    script = {
        name: {"type": "text/event-stream", "chunks": chunks, "hold": True}
        for name, chunks in HELD.items()
    }
    proc = start_scripted(script, Path(tmp_path_factory.mktemp("held")))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def cutting(held: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    kinds = {"openai": ("openai-compatible", "/v1"), "anthropic": ("anthropic", "")}
    providers = {
        kind: {"type": kind_type, "base_url": held.url + suffix, "api_keys": ["sk-up-000000001"]}
        for kind, (kind_type, suffix) in kinds.items()
    }
    models = {
        f"cut-{kind}": {"deployments": [{"provider": kind, "model": f"cut-{kind}"}]}
        for kind in kinds
    }
    config = {"storage": {"enabled": False}, "providers": providers, "models": models}
    proc = start_gateway(config, Path(tmp_path_factory.mktemp("cutting")))
    yield proc
    proc.stop()


def _left_at_the_last_text(gateway: Proc, request_id: str) -> dict[str, Any]:
    line = request_line(gateway, request_id)
    assert (line["status"], line["error"]) == (499, "client_disconnected")
    return line


@pytest.mark.parametrize("upstream", ["openai", "anthropic"])
def test_an_openai_client_leaving_before_the_usage_is_counted_for_what_it_received(
    cutting: Proc, held: Proc, upstream: str
) -> None:
    """Before: the call was logged without tokens (an OpenAI upstream: its usage comes last)
    or with the one output token of Anthropic's ``message_start`` (relayed, or translated),
    and limits and budgets settled it so, for {WORDS} words received."""
    client = openai.OpenAI(base_url=cutting.url + "/v1", api_key="unused", max_retries=0)
    words = 0
    with client.chat.completions.with_streaming_response.create(
        model=f"cut-{upstream}", messages=CHAT, stream=True
    ) as reply:
        request_id = reply.headers["x-request-id"]
        for chunk in reply.parse():
            if chunk.choices and chunk.choices[0].delta.content:
                words += 1
            if words == WORDS:
                break  # leaving closes the connection: the usage never comes
    line = _left_at_the_last_text(cutting, request_id)
    assert words == WORDS and line["output_tokens"] >= WORDS
    assert scripted_requests(held)[-1]["closed"]  # the upstream call was dropped too


def test_an_anthropic_client_leaving_before_message_delta_is_counted_for_what_it_received(
    cutting: Proc,
) -> None:
    client = anthropic.Anthropic(base_url=cutting.url, api_key="unused", max_retries=0)
    words = 0
    with client.messages.with_streaming_response.create(
        model="cut-anthropic", max_tokens=4096, messages=CHAT, stream=True
    ) as reply:
        request_id = reply.headers["x-request-id"]
        for event in reply.parse():
            if event.type == "content_block_delta":
                words += 1
            if event.type == "content_block_stop":
                break
    line = _left_at_the_last_text(cutting, request_id)
    assert words == WORDS and line["output_tokens"] >= WORDS


# A background response: queued at once without usage, generated afterwards, read by polling.
QUEUED = {"id": "resp_bg1", "object": "response", "status": "queued", "background": True,
          "model": "bg", "output": [], "usage": None}  # fmt: skip
DONE = {**QUEUED, "status": "completed",
        "usage": {"input_tokens": 10, "output_tokens": 50_000, "total_tokens": 50_010}}  # fmt: skip
LONG = {**QUEUED, "id": "resp_bg2", "model": "bg-long"}
MASTER = "sk-master-accounting-000001"
ADMIN = {"Authorization": f"Bearer {MASTER}"}


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    tmp = Path(tmp_path_factory.mktemp("background"))
    script = {
        "bg": {"chunks": [json.dumps(QUEUED)]},
        "GET /v1/responses/resp_bg1": {"chunks": [json.dumps(DONE)]},
        "bg-long": {"chunks": [json.dumps(LONG)]},  # still generating whenever asked
        "GET /v1/responses/resp_bg2": {"chunks": [json.dumps({**LONG, "status": "in_progress"})]},
    }
    upstream = start_scripted(script, tmp)
    price = {"input": 10, "output": 40}
    config = {
        "providers": {
            "oa": {"type": "openai", "base_url": upstream.url + "/v1", "api_keys": ["sk-up-01"]}
        },
        "models": {
            name: {"deployments": [{"provider": "oa", "model": name, "price": price}]}
            for name in ("bg", "bg-long")
        },
    }
    gateway = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield gateway, upstream
    gateway.stop()
    upstream.stop()


def _key(gateway: Proc, **limits: Any) -> str:
    reply = httpx.post(gateway.url + "/admin/keys", headers=ADMIN, json={"name": "k", **limits})
    assert reply.status_code == 201, reply.text
    secret: str = reply.json()["key"]
    return secret


@pytest.mark.parametrize("limits", [{"budget": 1, "budget_period": "day"}, {"tpm": 100_000}])
@pytest.mark.parametrize("stream", [False, True])
def test_a_background_response_is_refused_to_a_key_with_a_budget_or_token_limit(
    background: tuple[Proc, Proc], limits: dict[str, Any], stream: bool
) -> None:
    """Before: the queued answer had no usage, so the call settled at its estimate (a few
    hundred tokens) and the 50,000 tokens generated afterwards, read by polling, were never
    counted: three calls spent $6 on a $1 budget, which showed $0.03 spent."""
    gateway, upstream = background
    client = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=_key(gateway, **limits), max_retries=0
    )
    asked = len(scripted_requests(upstream))
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="bg", input="a novel", background=True, stream=stream)
    assert caught.value.status_code == 400
    assert caught.value.param == "background" and caught.value.code == "unmetered_request"
    assert len(scripted_requests(upstream)) == asked  # nothing was sent


def test_a_key_without_limits_may_still_run_a_background_response(
    background: tuple[Proc, Proc],
) -> None:
    """Its request-log row carries the usage and cost of what was generated after the answer,
    as a foreground call's does: the gateway polls the response until it is done and writes
    the row then. Before, the row had the queued answer's empty usage and no cost."""
    gateway, _ = background
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=_key(gateway), max_retries=0)
    raw = client.responses.with_raw_response.create(model="bg", input="a novel", background=True)
    queued = raw.parse()
    assert queued.status == "queued"
    done = client.responses.retrieve(queued.id)
    assert done.status == "completed"
    line = request_line(gateway, raw.headers["x-request-id"])
    assert line["status"] == 200 and line["operation"] == "responses"
    assert (line["input_tokens"], line["output_tokens"]) == (10, 50_000)
    assert line["cost_usd"] == pytest.approx((10 * 10 + 50_000 * 40) / 1_000_000)


def test_a_background_response_holds_its_slot_until_it_has_ended(
    background: tuple[Proc, Proc],
) -> None:
    """``max_parallel`` counts a background response until it has ended, as it counts a
    stream until its last byte. Before, its slot was freed by the ``queued`` answer, so a
    key with ``max_parallel: 1`` ran any number of background generations at once."""
    gateway, _ = background
    client = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=_key(gateway, max_parallel=1), max_retries=0
    )
    assert client.responses.create(model="bg-long", input="a", background=True).status == "queued"
    with pytest.raises(openai.RateLimitError) as caught:  # still generating: its slot is taken
        client.responses.create(model="bg", input="b", background=True)
    assert "in flight" in caught.value.message
    other = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=_key(gateway, max_parallel=1), max_retries=0
    )
    assert other.responses.create(model="bg", input="c", background=True).status == "queued"

    def freed() -> bool:  # once the gateway has seen it completed, the slot is free again
        try:
            other.responses.create(model="bg", input="d", background=True)
        except openai.RateLimitError:
            return False
        return True

    until(freed)
