"""The pii guardrail: what it finds, how it redacts, and streams split at every position."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from turnout.errors import GuardrailRefused
from turnout.plugins.base import Host, Run
from turnout.plugins.entities import find
from turnout.plugins.pii import PII, PIISettings
from turnout.plugins.streamtext import StreamText
from turnout.protocols.sse import SSEParser, frame
from turnout.types import Call, Reply

ALL = frozenset({"email", "phone", "card", "iban", "secret", "ip"})


def kinds(text: str) -> list[tuple[str, str]]:
    return [(k, text[s:e]) for s, e, k in find(text, ALL)]


def test_entities_found_and_checked() -> None:
    text = (
        "mail ann.lee+x@mail.example.co.uk, card 4111 1111 1111 1111, not 4111 1111 1111 1112, "
        "iban DE89 3704 0044 0532 0130 00, bad GB00WEST12345698765432, key "
        "sk-proj-abcdefghijklmnopqrstuvwx, ip 192.168.1.20 and 2001:db8::1, "
        "phone +1 415 555 0100, date 2024-01-15, version 1.2.3"
    )
    assert kinds(text) == [
        ("email", "ann.lee+x@mail.example.co.uk"),
        ("card", "4111 1111 1111 1111"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
        ("secret", "sk-proj-abcdefghijklmnopqrstuvwx"),
        ("ip", "192.168.1.20"),
        ("ip", "2001:db8::1"),
        ("phone", "+1 415 555 0100"),
    ]


def plugin(**settings: Any) -> PII:
    return PII(PIISettings(**settings), Host())


def call_of(data: dict[str, Any], protocol: str = "openai") -> Call:
    return Call(protocol, "chat", "m", orjson.dumps(data), data, False, {}, "rid", 0.0)


def test_requests_redacted_in_every_protocol_shape() -> None:
    p = plugin()
    data: dict[str, Any] = {
        "system": [{"type": "text", "text": "admin is root@corp.example"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "I am a@b.io"}]}],
        "model": "x@y.zz",
    }
    call = call_of(data, "anthropic")
    run = Run("pii", call)
    asyncio.run(p.before(call, run))
    assert call.data["system"][0]["text"] == "admin is [EMAIL]"
    assert call.data["messages"][0]["content"][0]["text"] == "I am [EMAIL]"
    assert call.data["model"] == "x@y.zz"  # not text
    assert orjson.loads(call.body) == call.data
    assert call.guardrails == [("pii", "email", "redact")]
    assert data["messages"][0]["content"][0]["text"] == "I am a@b.io"  # the original untouched


def test_block_action_refuses() -> None:
    p = plugin(entities={"card": "block", "email": "allow"})
    call = call_of({"contents": [{"parts": [{"text": "pay 4111-1111-1111-1111 a@b.io"}]}]})
    with pytest.raises(GuardrailRefused) as info:
        asyncio.run(p.before(call, Run("pii", call)))
    assert info.value.rule == "card"
    assert "4111" not in info.value.message


def test_reversible_placeholders_map_back_in_whole_answers() -> None:
    p = plugin(reversible=True)
    call = call_of({"messages": [{"role": "user", "content": "mail a@b.io and c@d.io, a@b.io"}]})
    run = Run("pii", call)
    asyncio.run(p.before(call, run))
    assert call.data["messages"][0]["content"] == "mail [EMAIL_1] and [EMAIL_2], [EMAIL_1]"
    answer = {"choices": [{"message": {"content": "wrote to [EMAIL_2] and [EMAIL_9]"}}]}
    reply = asyncio.run(p.after(call, Reply(200, [], orjson.dumps(answer)), run))
    content = orjson.loads(reply.body)["choices"][0]["message"]["content"]
    assert content == "wrote to c@d.io and [EMAIL_9]"


TEXT = "Reach me at john.doe@example.com or +44 20 7946 0958, card 4111111111111111 ok."
REDACTED = "Reach me at [EMAIL] or [PHONE], card [CARD] ok."


def openai_event(piece: str) -> bytes:
    return frame(orjson.dumps({"choices": [{"index": 0, "delta": {"content": piece}}]}))


def anthropic_event(piece: str) -> bytes:
    body = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": piece},
    }
    return frame(orjson.dumps(body), "content_block_delta")


def gemini_event(piece: str) -> bytes:
    return frame(orjson.dumps({"candidates": [{"content": {"parts": [{"text": piece}]}}]}))


def responses_event(piece: str) -> bytes:
    body = {"type": "response.output_text.delta", "output_index": 0, "content_index": 0}
    return frame(orjson.dumps({**body, "delta": piece}), "response.output_text.delta")


ENDS = {
    "openai": frame(b'{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')
    + b"data: [DONE]\n\n",
    "anthropic": frame(b'{"type":"content_block_stop","index":0}', "content_block_stop"),
    "gemini": b"",
    "responses": frame(b'{"type":"response.completed"}', "response.completed"),
}
MAKERS = {
    "openai": openai_event,
    "anthropic": anthropic_event,
    "gemini": gemini_event,
    "responses": responses_event,
}


def texts_of(stream: bytes) -> str:
    out: list[str] = []
    for ev in SSEParser().feed(stream):
        if ev.data == b"[DONE]":
            continue
        obj = orjson.loads(ev.data)
        from turnout.plugins.streamtext import deltas

        out.extend(holder[field] for _, holder, field in deltas(obj))
    return "".join(out)


def run_stream(p: PII, events: list[bytes], split_bytes: int | None = None) -> bytes:
    call = call_of({"messages": []})
    call.stream = True
    run = Run("pii", call)
    raw = b"".join(events)
    chunks = [raw] if split_bytes is None else [raw[:split_bytes], raw[split_bytes:]]

    async def go() -> bytes:
        out = [await p.on_chunk(call, c, run) for c in chunks if c]
        out.append(await p.on_stream_end(call, run))
        return b"".join(out)

    return asyncio.run(go())


@pytest.mark.parametrize("shape", list(MAKERS))
def test_streams_redacted_whatever_the_split(shape: str) -> None:
    p = plugin(requests=False, responses=True, stream_window=32)
    make = MAKERS[shape]
    for at in range(len(TEXT) + 1):  # the text split into two events at every position
        events = [make(TEXT[:at]), make(TEXT[at:]), ENDS[shape]]
        out = run_stream(p, events)
        assert texts_of(out) == REDACTED, (shape, at)
        assert out.endswith(ENDS[shape])
    for size in (1, 3, 7):  # and into many small events
        pieces = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
        out = run_stream(p, [*map(make, pieces), ENDS[shape]])
        assert texts_of(out) == REDACTED, (shape, size)


def test_stream_bytes_split_anywhere() -> None:
    p = plugin(requests=False, responses=True)
    events = [openai_event(TEXT[:30]), openai_event(TEXT[30:]), ENDS["openai"]]
    raw = b"".join(events)
    for at in range(len(raw) + 1):
        out = run_stream(p, events, split_bytes=at)
        assert texts_of(out) == REDACTED, at
        assert out.endswith(b"data: [DONE]\n\n")


def test_stream_holds_back_a_bounded_amount() -> None:
    filt_text = "word " * 2000
    filt = plugin(responses=True, stream_window=64)._filter(Run("pii", call_of({})))
    assert filt is not None
    s = StreamText(filt)
    sent = 0
    for i in range(0, len(filt_text), 50):
        out = s.feed(openai_event(filt_text[i : i + 50]))
        sent += len(texts_of(out))
        assert i + 50 - sent <= 64 * 2 + 50 + 1  # held: the window and one event
    assert texts_of(s.finish())
