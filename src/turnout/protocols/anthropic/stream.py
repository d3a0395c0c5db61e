"""Anthropic Messages SSE <-> IR stream events."""

from __future__ import annotations

import orjson

from turnout.ir import (
    JSON,
    BlockStop,
    ErrorInfo,
    ErrorKind,
    Finish,
    FinishReason,
    RedactedThinking,
    StreamError,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ThinkingPart,
    ThinkingSignature,
    ToolArgsDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    UsageUpdate,
)
from turnout.protocols.anthropic.errors import STATUS_FOR_TYPE, render_stream
from turnout.protocols.anthropic.errors import parse as parse_error
from turnout.protocols.anthropic.messages import JSON_TOOL_NAME
from turnout.protocols.anthropic.response import (
    finish_from_ir,
    finish_to_ir,
    usage_from_ir,
    usage_to_ir,
)
from turnout.protocols.decoder import SSEDecoder
from turnout.protocols.jsonprefix import ObjectPrefix
from turnout.protocols.signatures import from_anthropic_signature, to_anthropic_signature
from turnout.protocols.sse import frame

_TEXT, _THINKING, _TOOL, _JSON_TOOL, _OTHER = range(5)


class StreamDecoder(SSEDecoder):
    """Upstream Anthropic SSE bytes -> IR events (pings and unknown events are ignored)."""

    incomplete_message = "upstream stream ended before message_stop"

    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[int, tuple[int, int]] = {}  # block index -> (kind, tool index)
        self._tools = 0
        self._json_tool = False  # a block of the JSON-mode tool was opened
        self._usage = Usage()
        self._done = False

    def _complete(self) -> bool:
        return self._done

    def _data(self, data: bytes, out: list[StreamEvent]) -> None:
        if self._done or self._failed:
            return
        try:
            obj: JSON = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._failed = True
            out.append(StreamError(502, ErrorKind.SERVER.value, "malformed upstream event"))
            return
        kind = obj.get("type")
        if kind == "content_block_delta":
            change = obj.get("delta")
            # Most events of a stream: a text delta, read here without another call.
            if type(change) is dict and change.get("type") == "text_delta":
                out.append(TextDelta(change.get("text", "")))
            else:
                self._delta(obj, out)
        elif kind == "content_block_start":
            self._start(obj, out)
        elif kind == "content_block_stop":
            self._stop(obj, out)
        elif kind == "message_start":
            message: JSON = obj.get("message") or {}
            out.append(StreamStart(message.get("id"), message.get("model")))
            if message.get("usage"):
                self._usage = usage_to_ir(message["usage"], self._usage)
                out.append(UsageUpdate(self._usage))
        elif kind == "message_delta":
            delta: JSON = obj.get("delta") or {}
            raw = delta.get("stop_reason")
            if raw:
                # A flag, not a walk of the blocks: an upstream repeating message_delta
                # after thousands of blocks held the event loop for a minute.
                json_only = self._tools == 0 and self._json_tool
                reason = finish_to_ir(raw, json_only) or FinishReason.OTHER
                out.append(Finish(reason, raw, delta.get("stop_sequence")))
            if obj.get("usage"):
                self._usage = usage_to_ir(obj["usage"], self._usage)
                out.append(UsageUpdate(self._usage))
        elif kind == "message_stop":
            self._done = True
        elif kind == "error":
            err: JSON = obj.get("error") or {}
            info = parse_error(STATUS_FOR_TYPE.get(str(err.get("type")), 500), obj)
            self._failed = True
            out.append(StreamError(info.status, info.kind.value, info.message))

    def _start(self, obj: JSON, out: list[StreamEvent]) -> None:
        block: JSON = obj.get("content_block") or {}
        index = obj.get("index", 0)
        if index not in self._blocks and not self._opened(out):
            return
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = (_TEXT, -1)
            if block.get("text"):
                out.append(TextDelta(block["text"]))
        elif kind == "thinking":
            self._blocks[index] = (_THINKING, -1)
            if block.get("thinking"):
                out.append(ThinkingDelta(block["thinking"]))
        elif kind == "redacted_thinking":
            self._blocks[index] = (_OTHER, -1)
            out.append(RedactedThinking(block.get("data", "")))
        elif kind == "tool_use" and block.get("name") == JSON_TOOL_NAME:
            self._blocks[index] = (_JSON_TOOL, -1)
            self._json_tool = True
        elif kind == "tool_use":
            self._blocks[index] = (_TOOL, self._tools)
            out.append(ToolCallStart(self._tools, block.get("id", ""), block.get("name", "")))
            if block.get("input"):
                out.append(ToolArgsDelta(self._tools, orjson.dumps(block["input"]).decode()))
            self._tools += 1
        else:
            self._blocks[index] = (_OTHER, -1)  # server tools, citations...: not translatable

    def _delta(self, obj: JSON, out: list[StreamEvent]) -> None:
        kind, tool = self._blocks.get(obj.get("index", 0), (_OTHER, -1))
        delta: JSON = obj.get("delta") or {}
        dtype = delta.get("type")
        if dtype == "text_delta":
            out.append(TextDelta(delta.get("text", "")))
        elif dtype == "thinking_delta":
            out.append(ThinkingDelta(delta.get("thinking", "")))
        elif dtype == "signature_delta":
            signature, source = from_anthropic_signature(delta.get("signature"))
            if signature is not None and source is not None:
                out.append(ThinkingSignature(signature, source))
        elif dtype == "input_json_delta" and delta.get("partial_json"):
            if kind == _JSON_TOOL:
                out.append(TextDelta(delta["partial_json"]))
            elif kind == _TOOL:
                out.append(ToolArgsDelta(tool, delta["partial_json"]))

    def _stop(self, obj: JSON, out: list[StreamEvent]) -> None:
        kind, tool = self._blocks.get(obj.get("index", 0), (_OTHER, -1))
        if kind == _TOOL:
            out.append(ToolCallEnd(tool))
        elif kind != _OTHER:
            out.append(BlockStop())


# A tool call's arguments are the block's ``input`` object, which the Anthropic SDK parses piece
# by piece: a piece after which they cannot be one, or a call closed before they are whole, is
# the upstream's failure (translation answers it with a 502 or the client's error frame),
# raised before that piece is written (protocols/jsonprefix.py).
_BAD_ARGUMENTS = "upstream sent tool call arguments that are not a JSON object"


def _event(name: str, payload: JSON) -> bytes:
    return frame(orjson.dumps(payload), name)


class StreamEncoder:
    """IR events -> Anthropic SSE for an Anthropic client.

    Guarantees: ``message_start`` first, block indexes contiguous from 0 with start/delta*/stop,
    a thinking block's ``signature_delta`` right before its stop, one ``message_delta`` with
    ``usage.output_tokens`` (stop reason and usage arrive in either order upstream, so it is
    written at :meth:`finish`), ``message_stop`` last; after an error frame nothing more.
    """

    def __init__(self, public_model: str, *, response_id: str | None = None) -> None:
        self._model = public_model
        self._id = response_id
        self._started = False
        self._failed = False
        self._index = -1
        self._open: int | None = None  # kind of the open block
        self._open_tool = -1
        self._args = ObjectPrefix()  # the open tool call's arguments: an object, piece by piece
        self._finish: Finish | None = None
        self._usage = Usage()

    def _ensure_started(self, out: list[bytes]) -> None:
        if self._started:
            return
        self._started = True
        out.append(
            _event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": self._id or "msg_turnout",
                        "type": "message",
                        "role": "assistant",
                        "model": self._model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": usage_from_ir(self._usage),
                    },
                },
            )
        )

    def _close(self, out: list[bytes]) -> None:
        if self._open == _TOOL and not self._args.complete():
            raise ValueError(_BAD_ARGUMENTS)
        if self._open is not None:
            out.append(
                _event("content_block_stop", {"type": "content_block_stop", "index": self._index})
            )
            self._open = None

    def _open_block(self, kind: int, block: JSON, out: list[bytes]) -> None:
        self._close(out)
        self._index += 1
        self._open = kind
        out.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )

    def _delta(self, delta: JSON, out: list[bytes]) -> None:
        out.append(
            _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": self._index, "delta": delta},
            )
        )

    def feed(self, event: StreamEvent) -> list[bytes]:
        out: list[bytes] = []
        if self._failed:
            return out
        if isinstance(event, StreamStart):
            if not self._started and self._id is None:
                self._id = event.id
            self._ensure_started(out)
            return out
        if isinstance(event, StreamError):
            self._failed = True
            out.append(render_stream(ErrorInfo(event.status, ErrorKind(event.kind), event.message)))
            return out
        self._ensure_started(out)
        if isinstance(event, TextDelta):
            if self._open != _TEXT:
                self._open_block(_TEXT, {"type": "text", "text": ""}, out)
            if event.text:
                self._delta({"type": "text_delta", "text": event.text}, out)
        elif isinstance(event, ThinkingDelta):
            if self._open != _THINKING:
                self._open_block(
                    _THINKING, {"type": "thinking", "thinking": "", "signature": ""}, out
                )
            if event.text:
                self._delta({"type": "thinking_delta", "thinking": event.text}, out)
        elif isinstance(event, ThinkingSignature):
            if self._open != _THINKING:
                self._open_block(
                    _THINKING, {"type": "thinking", "thinking": "", "signature": ""}, out
                )
            part = ThinkingPart(signature=event.signature, source=event.source)
            self._delta({"type": "signature_delta", "signature": to_anthropic_signature(part)}, out)
            self._close(out)
        elif isinstance(event, RedactedThinking):
            self._open_block(_OTHER, {"type": "redacted_thinking", "data": event.data}, out)
            self._close(out)
        elif isinstance(event, BlockStop):
            if self._open != _TOOL:
                self._close(out)
        elif isinstance(event, ToolCallStart):
            self._open_block(
                _TOOL, {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}, out
            )
            self._open_tool = event.index
            self._args = ObjectPrefix()
        elif isinstance(event, ToolArgsDelta):
            if self._open == _TOOL and event.partial_json:
                if not self._args.feed(event.partial_json):
                    raise ValueError(_BAD_ARGUMENTS)
                self._delta({"type": "input_json_delta", "partial_json": event.partial_json}, out)
        elif isinstance(event, ToolCallEnd):
            if self._open == _TOOL:
                self._close(out)
        elif isinstance(event, Finish):
            self._finish = self._finish or event
        elif isinstance(event, UsageUpdate):
            self._usage = event.usage
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        if self._failed:
            return out
        self._ensure_started(out)
        self._close(out)
        finish = self._finish
        stop_sequence = finish.stop_sequence if finish else None
        delta = {
            "stop_reason": finish_from_ir(finish.reason if finish else None, stop_sequence),
            "stop_sequence": stop_sequence,
        }
        out.append(
            _event(
                "message_delta",
                {"type": "message_delta", "delta": delta, "usage": usage_from_ir(self._usage)},
            )
        )
        out.append(_event("message_stop", {"type": "message_stop"}))
        return out
