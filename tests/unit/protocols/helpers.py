"""Stream pipelines and per-protocol validators of what the gateway emits to clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from turnout.ir import StreamEvent
from turnout.protocols.anthropic import stream as anthropic_stream
from turnout.protocols.gemini import stream as gemini_stream
from turnout.protocols.openai import stream as openai_stream

DECODERS: dict[str, Any] = {
    "openai": openai_stream.StreamDecoder,
    "anthropic": anthropic_stream.StreamDecoder,
    "gemini": gemini_stream.StreamDecoder,
}


def encoder(protocol: str, include_usage: bool = True) -> Any:
    if protocol == "openai":
        return openai_stream.StreamEncoder(
            "public-model", include_usage=include_usage, created=1700000000
        )
    if protocol == "anthropic":
        return anthropic_stream.StreamEncoder("public-model")
    return gemini_stream.StreamEncoder("public-model")


def decode(protocol: str, chunks: list[bytes]) -> list[StreamEvent]:
    dec = DECODERS[protocol]()
    events: list[StreamEvent] = []
    for chunk in chunks:
        events.extend(dec.feed(chunk))
    events.extend(dec.finish())
    return events


def pipeline(src: str, dst: str, chunks: list[bytes], include_usage: bool = True) -> bytes:
    dec = DECODERS[src]()
    enc = encoder(dst, include_usage)
    out: list[bytes] = []
    for chunk in chunks:
        for event in dec.feed(chunk):
            out.extend(enc.feed(event))
    for event in dec.finish():
        out.extend(enc.feed(event))
    out.extend(enc.finish())
    return b"".join(out)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


@dataclass
class Reassembled:
    """What a client would reconstruct from a stream, protocol-neutral."""

    text: str = ""
    thinking: str = ""
    signatures: list[str] = field(default_factory=list)
    tools: list[tuple[str, str, Any]] = field(default_factory=list)  # id, name, args
    finish: str | None = None
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def _frames(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\n\n") or raw == b"", raw[-50:]
    return [f for f in raw.split(b"\n\n") if f]


def validate_openai(raw: bytes, include_usage: bool) -> Reassembled:
    frames = _frames(raw)
    out = Reassembled()
    for f in frames:
        assert f.startswith(b"data: "), f
        assert b"\n" not in f
    if frames[-1] != b"data: [DONE]":
        err = orjson.loads(frames[-1][6:])
        assert "error" in err, frames[-1]
        out.error = err["error"]
        return out
    chunks = [orjson.loads(f[6:]) for f in frames[:-1]]
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    finishes = 0
    calls: dict[int, list[Any]] = {}
    usage_chunks = []
    for pos, chunk in enumerate(chunks):
        for key in ("id", "created", "model"):
            assert key in chunk, chunk
        assert chunk["object"] == "chat.completion.chunk"
        assert isinstance(chunk["choices"], list)
        if chunk.get("usage") is not None:
            assert chunk["choices"] == []
            usage_chunks.append(pos)
            out.usage = chunk["usage"]
            continue
        assert len(chunk["choices"]) == 1
        choice = chunk["choices"][0]
        assert choice["index"] == 0
        delta = choice["delta"]
        out.text += delta.get("content") or ""
        out.thinking += delta.get("reasoning_content") or ""
        for tc in delta.get("tool_calls") or ():
            assert isinstance(tc["index"], int)
            if "id" in tc:
                assert tc["index"] not in calls
                calls[tc["index"]] = [tc["id"], tc["function"]["name"], ""]
            calls[tc["index"]][2] += tc["function"].get("arguments") or ""
        if choice["finish_reason"] is not None:
            finishes += 1
            out.finish = choice["finish_reason"]
    assert finishes == 1
    if include_usage:
        assert usage_chunks == [len(chunks) - 1]
    else:
        assert usage_chunks == []
    out.tools = [(c[0], c[1], orjson.loads(c[2] or "{}")) for _, c in sorted(calls.items())]
    return out


def validate_anthropic(raw: bytes) -> Reassembled:
    frames = _frames(raw)
    out = Reassembled()
    events = []
    for f in frames:
        head, _, data = f.partition(b"\n")
        assert head.startswith(b"event: ") and data.startswith(b"data: "), f
        assert b"\n" not in data
        obj = orjson.loads(data[6:])
        assert obj["type"] == head[7:].decode()
        events.append(obj)
    assert b"[DONE]" not in raw
    if events[-1]["type"] == "error":
        out.error = events[-1]["error"]
        return out
    assert events[0]["type"] == "message_start"
    assert "usage" in events[0]["message"]
    assert events[-1]["type"] == "message_stop"
    assert events[-2]["type"] == "message_delta"
    assert isinstance(events[-2]["usage"]["output_tokens"], int)
    expected_index, open_block = 0, None
    blocks: list[dict[str, Any]] = []
    for pos, ev in enumerate(events[1:-2], start=1):
        kind = ev["type"]
        if kind == "content_block_start":
            assert open_block is None and ev["index"] == expected_index
            open_block = dict(ev["content_block"])
            open_block.setdefault("_json", "")
            blocks.append(open_block)
        elif kind == "content_block_delta":
            assert open_block is not None and ev["index"] == expected_index
            d = ev["delta"]
            if d["type"] == "text_delta":
                assert open_block["type"] == "text"
                open_block["text"] += d["text"]
            elif d["type"] == "thinking_delta":
                assert open_block["type"] == "thinking"
                open_block["thinking"] += d["thinking"]
            elif d["type"] == "signature_delta":
                assert open_block["type"] == "thinking"
                assert events[pos + 1]["type"] == "content_block_stop"
                open_block["signature"] = d["signature"]
            elif d["type"] == "input_json_delta":
                assert open_block["type"] == "tool_use"
                open_block["_json"] += d["partial_json"]
        elif kind == "content_block_stop":
            assert open_block is not None and ev["index"] == expected_index
            open_block, expected_index = None, expected_index + 1
        else:
            raise AssertionError(f"unexpected event {kind}")
    assert open_block is None
    for b in blocks:
        if b["type"] == "text":
            out.text += b["text"]
        elif b["type"] == "thinking":
            out.thinking += b["thinking"]
            if b["signature"]:
                out.signatures.append(b["signature"])
        elif b["type"] == "tool_use":
            out.tools.append((b["id"], b["name"], orjson.loads(b["_json"] or "{}")))
    out.finish = events[-2]["delta"]["stop_reason"]
    out.usage = events[-2]["usage"]
    return out


def validate_gemini(raw: bytes) -> Reassembled:
    frames = _frames(raw)
    out = Reassembled()
    bodies = []
    for f in frames:
        assert f.startswith(b"data: ") and b"\n" not in f, f
        assert not f.startswith(b"data: [DONE]")
        body = orjson.loads(f[6:])
        assert isinstance(body, dict)
        bodies.append(body)
    if "error" in bodies[-1]:
        out.error = bodies[-1]["error"]
        return out
    for pos, body in enumerate(bodies):
        cand = body["candidates"][0]
        last = pos == len(bodies) - 1
        assert ("finishReason" in cand) == last
        assert ("usageMetadata" in body) == last
        for part in cand["content"]["parts"]:
            if part.get("thought"):
                out.thinking += part.get("text", "")
            elif "text" in part:
                out.text += part["text"]
            if "functionCall" in part:
                call = part["functionCall"]
                assert isinstance(call["args"], dict)
                out.tools.append((call.get("id"), call["name"], call["args"]))
            if "thoughtSignature" in part:
                out.signatures.append(part["thoughtSignature"])
    out.finish = bodies[-1]["candidates"][0]["finishReason"]
    out.usage = bodies[-1]["usageMetadata"]
    return out


def validate(protocol: str, raw: bytes, include_usage: bool = True) -> Reassembled:
    if protocol == "openai":
        return validate_openai(raw, include_usage)
    if protocol == "anthropic":
        return validate_anthropic(raw)
    return validate_gemini(raw)
