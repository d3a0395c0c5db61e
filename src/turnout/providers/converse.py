"""Bedrock's Converse API in Anthropic's terms: the bedrock provider speaks Anthropic's protocol,
and models without an Anthropic body on Bedrock (Llama, Mistral, Nova, …) are reached through
Converse, so the requests and answers are mapped here, field by field.

Request (an Anthropic Messages body): ``system`` → ``system: [{text}]``; messages' ``text``,
``image`` (base64), ``tool_use`` and ``tool_result`` blocks → ``text``, ``image``, ``toolUse``,
``toolResult``; ``max_tokens``, ``temperature``, ``top_p``, ``stop_sequences`` →
``inferenceConfig``; ``tools`` and ``tool_choice`` → ``toolConfig``; ``top_k`` and
``thinking`` → ``additionalModelRequestFields`` (the model's own fields). A block Converse has
no place for is refused with a 400 naming it.

Answer: ``output.message.content`` → Anthropic content blocks, ``stopReason`` → ``stop_reason``
(``guardrail_intervened`` and ``content_filtered`` → ``refusal``), ``usage`` → ``usage``.
Stream: ConverseStream's events (``messageStart``, ``contentBlockStart``/``Delta``/``Stop``,
``messageStop``, ``metadata``) → Anthropic's SSE events; Converse reports usage after
``messageStop``, so ``message_delta`` and ``message_stop`` are written when ``metadata``
arrives (or the stream ends).
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson

from turnout.errors import BadRequest
from turnout.ir.response import count, section
from turnout.protocols.anthropic.shapes import RESPONSE
from turnout.protocols.decoder import MAX_PARTS
from turnout.protocols.jsonprefix import ObjectPrefix

JSONObj = dict[str, Any]
_STOP = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
}
_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}


def _text_blocks(value: Any, where: str) -> list[JSONObj]:
    if isinstance(value, str):
        return [{"text": value}] if value else []
    if isinstance(value, list):
        out = []
        for block in value:
            if isinstance(block, dict) and block.get("type") == "text":
                out.append({"text": str(block.get("text", ""))})
            else:
                raise BadRequest(f"{where}: only text blocks can be sent to this model")
        return out
    raise BadRequest(f"{where}: expected a string or a list of text blocks", param=where)


def _block(block: Any, where: str) -> JSONObj:
    if not isinstance(block, dict):
        raise BadRequest(f"{where}: expected an object", param=where)
    kind = block.get("type")
    if kind == "text":
        return {"text": str(block.get("text", ""))}
    if kind == "image":
        source = block.get("source")
        if isinstance(source, dict) and source.get("type") == "base64":
            fmt = _IMAGE_FORMATS.get(str(source.get("media_type")))
            data = source.get("data")
            if fmt is not None and isinstance(data, str):
                return {"image": {"format": fmt, "source": {"bytes": data}}}
        raise BadRequest(f"{where}: only base64 PNG, JPEG, GIF or WebP images", param=where)
    if kind == "tool_use":
        return {
            "toolUse": {
                "toolUseId": str(block.get("id", "")),
                "name": str(block.get("name", "")),
                "input": block.get("input") if isinstance(block.get("input"), dict) else {},
            }
        }
    if kind == "tool_result":
        content = block.get("content")
        parts = _text_blocks(content, f"{where}.content") if content is not None else []
        result: JSONObj = {"toolUseId": str(block.get("tool_use_id", "")), "content": parts}
        if block.get("is_error") is True:
            result["status"] = "error"
        return {"toolResult": result}
    raise BadRequest(f"{where}: '{kind}' blocks cannot be sent to this model", param=where)


def request(data: JSONObj) -> JSONObj:
    """An Anthropic Messages body as a Converse body."""
    messages = []
    given = data.get("messages") or []
    if not isinstance(given, list):
        raise BadRequest("messages: expected a list", param="messages")
    for i, message in enumerate(given):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{i}]: expected an object", param=f"messages[{i}]")
        content = message.get("content")
        where = f"messages[{i}].content"
        if isinstance(content, str):
            blocks = [{"text": content}]
        elif isinstance(content, list):
            blocks = [_block(b, f"{where}[{j}]") for j, b in enumerate(content)]
        else:
            raise BadRequest(f"{where}: expected a string or a list", param=where)
        messages.append({"role": message.get("role"), "content": blocks})
    out: JSONObj = {"messages": messages}
    if data.get("system"):
        out["system"] = _text_blocks(data["system"], "system")
    config = {
        name: data[key]
        for key, name in (
            ("max_tokens", "maxTokens"),
            ("temperature", "temperature"),
            ("top_p", "topP"),
            ("stop_sequences", "stopSequences"),
        )
        if data.get(key) is not None
    }
    if config:
        out["inferenceConfig"] = config
    extra = {key: data[key] for key in ("top_k", "thinking") if data.get(key) is not None}
    if extra:
        out["additionalModelRequestFields"] = extra
    tools, choice = data.get("tools"), data.get("tool_choice")
    if (
        isinstance(tools, list)
        and tools
        and not (isinstance(choice, dict) and choice.get("type") == "none")
    ):
        specs = []
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise BadRequest("tools: every tool needs a name", param="tools")
            spec: JSONObj = {
                "name": tool["name"],
                "inputSchema": {"json": tool.get("input_schema") or {}},
            }
            if isinstance(tool.get("description"), str):
                spec["description"] = tool["description"]
            specs.append({"toolSpec": spec})
        tool_config: JSONObj = {"tools": specs}
        if isinstance(choice, dict):
            kind = choice.get("type")
            if kind == "any":
                tool_config["toolChoice"] = {"any": {}}
            elif kind == "tool" and isinstance(choice.get("name"), str):
                tool_config["toolChoice"] = {"tool": {"name": choice["name"]}}
            elif kind == "auto":
                tool_config["toolChoice"] = {"auto": {}}
        out["toolConfig"] = tool_config
    return out


def _usage(usage: Any) -> JSONObj:
    usage = section(usage)
    out = {
        "input_tokens": count(usage.get("inputTokens")),
        "output_tokens": count(usage.get("outputTokens")),
    }
    if read := count(usage.get("cacheReadInputTokens")):
        out["cache_read_input_tokens"] = read
    if write := count(usage.get("cacheWriteInputTokens")):
        out["cache_creation_input_tokens"] = write
    return out


def _object(value: Any) -> JSONObj:
    """A tool call's input: an object (none is ``{}``), or the upstream's fault."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"a tool input that is {type(value).__name__}, not an object")
    return value


def _new_id() -> str:
    return "msg_bdrk_" + uuid.uuid4().hex[:24]


def response(data: JSONObj, model: str) -> JSONObj:
    """A Converse answer as an Anthropic message (malformed parts raise KeyError/TypeError,
    parts of the wrong type ValueError or the Anthropic answer shape's ShapeError): an Anthropic
    client gets it as it is, so it must be one whose types that client's SDK admits."""
    message = _message(data, model)
    RESPONSE.check(message)
    return message


def _message(data: JSONObj, model: str) -> JSONObj:
    content: list[JSONObj] = []
    for block in data["output"]["message"]["content"]:
        if not isinstance(block, dict):
            raise TypeError("a content block that is not an object")
        if "text" in block:
            content.append({"type": "text", "text": _string(block["text"], "text")})
        elif "toolUse" in block:
            use = block["toolUse"]
            content.append(
                {"type": "tool_use", "id": _string(use["toolUseId"], "toolUseId"),
                 "name": _string(use["name"], "name"), "input": _object(use.get("input"))}
            )  # fmt: skip
        elif "reasoningContent" in block:
            text = block["reasoningContent"].get("reasoningText") or {}
            content.append(
                {"type": "thinking", "thinking": _string(text.get("text", ""), "reasoning text"),
                 "signature": _string(text.get("signature", ""), "signature")}
            )  # fmt: skip
    return {
        "id": _new_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP.get(str(data.get("stopReason")), "end_turn"),
        "stop_sequence": None,
        "usage": _usage(data.get("usage")),
    }


def _string(value: Any, what: str) -> str:
    """A value the Anthropic message needs as a string: a Converse answer's number, list or
    object there is the upstream's fault (a ValueError, which the caller makes a 502)."""
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    return value


def _sse(event: JSONObj) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class StreamFramer:
    """ConverseStream events in, Anthropic SSE frames out, one event at a time.

    What comes out is a stream an Anthropic client can read whatever came in: each block gets
    Anthropic's own index, in the order blocks start (an upstream's ``contentBlockIndex`` of
    10**12 is a key, never a position), a delta for a tool call that never started, or a text,
    input or signature that is not a string, is the upstream's fault (``ValueError``), and at
    most :data:`MAX_PARTS` blocks are started."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.open: dict[int, int] = {}  # the upstream's index -> Anthropic's, while open
        self.started = 0
        # Each open tool call's arguments, checked piece by piece as an Anthropic client's
        # SDK reads them (protocols/jsonprefix.py): an object, or the upstream's failure.
        self.arguments: dict[int, ObjectPrefix] = {}
        self.stop: str | None = None
        self.done = False

    def _start(self, index: int, block: JSONObj) -> bytes:
        if self.started >= MAX_PARTS:  # the upstream's fault
            raise ValueError(f"more than {MAX_PARTS} content blocks")
        ours = self.open[index] = self.started
        self.started += 1
        return _sse({"type": "content_block_start", "index": ours, "content_block": block})

    def _delta(self, index: int, piece: JSONObj) -> bytes:
        event = {"type": "content_block_delta", "index": self.open[index], "delta": piece}
        return _sse(event)

    def _arguments_whole(self, index: int) -> None:
        checker = self.arguments.pop(index, None)
        if checker is not None and not checker.complete():
            raise ValueError("tool call arguments that are not a whole JSON object")

    def feed(self, kind: str, event: JSONObj) -> bytes:
        if kind == "messageStart":
            message: JSONObj = {
                "id": _new_id(), "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }  # fmt: skip
            return _sse({"type": "message_start", "message": message})
        if kind == "contentBlockStart":
            index = _index(event)
            use = (event.get("start") or {}).get("toolUse")
            if isinstance(use, dict):
                if index in self.open:
                    raise ValueError("a content block started twice")
                block = {"type": "tool_use", "id": _string(use.get("toolUseId", ""), "toolUseId"),
                         "name": _string(use.get("name", ""), "name"), "input": {}}  # fmt: skip
                started = self._start(index, block)
                self.arguments[index] = ObjectPrefix()
                return started
            return b""
        if kind == "contentBlockDelta":
            index = _index(event)
            delta = event.get("delta") or {}
            out = b""
            if "text" in delta:
                if index not in self.open:
                    out += self._start(index, {"type": "text", "text": ""})
                piece = {"type": "text_delta", "text": _string(delta["text"], "text")}
            elif "toolUse" in delta:
                if index not in self.open:
                    raise ValueError("a tool call's input before its start")
                args = _string(delta["toolUse"].get("input", ""), "toolUse.input")
                checker = self.arguments.get(index)
                if checker is not None and not checker.feed(args):
                    raise ValueError("tool call arguments that are not a JSON object")
                piece = {"type": "input_json_delta", "partial_json": args}
            elif "reasoningContent" in delta:
                reasoning = delta["reasoningContent"]
                if index not in self.open:
                    out += self._start(index, {"type": "thinking", "thinking": ""})
                if "signature" in reasoning:
                    signature = _string(reasoning["signature"], "signature")
                    piece = {"type": "signature_delta", "signature": signature}
                else:
                    text = _string(reasoning.get("text", ""), "reasoning text")
                    piece = {"type": "thinking_delta", "thinking": text}
            else:
                return out
            return out + self._delta(index, piece)
        if kind == "contentBlockStop":
            index = _index(event)
            ours = self.open.pop(index, None)
            if ours is None:
                return b""
            self._arguments_whole(index)
            return _sse({"type": "content_block_stop", "index": ours})
        if kind == "messageStop":
            self.stop = _STOP.get(str(event.get("stopReason")), "end_turn")
            return b""
        if kind == "metadata":
            return self.finish(event.get("usage"))
        return b""

    def finish(self, usage: Any = None) -> bytes:
        """The closing frames, once: at ``metadata``, or at the end of a stream without it."""
        if self.done or self.stop is None:
            return b""
        self.done = True
        for index in self.open:
            self._arguments_whole(index)
        out = b"".join(
            _sse({"type": "content_block_stop", "index": i}) for i in sorted(self.open.values())
        )
        self.open.clear()
        delta = {"stop_reason": self.stop, "stop_sequence": None}
        out += _sse({"type": "message_delta", "delta": delta, "usage": _usage(usage)})
        return out + _sse({"type": "message_stop"})


def _index(event: JSONObj) -> int:
    index = event.get("contentBlockIndex", 0)
    if not isinstance(index, int) or isinstance(index, bool):
        raise TypeError("a contentBlockIndex that is not an integer")
    return index


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


__all__ = ["StreamFramer", "request", "response"]
