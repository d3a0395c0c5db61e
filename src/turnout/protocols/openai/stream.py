"""OpenAI ``chat.completion.chunk`` SSE <-> IR stream events.

The encoder writes chunk JSON by concatenating a pre-serialised head (id/object/created/model)
with the delta, so each chunk costs one small ``orjson.dumps``.
"""

from __future__ import annotations

import time

import orjson

from turnout.ir import (
    JSON,
    BlockStop,
    ErrorInfo,
    ErrorKind,
    Finish,
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
from turnout.protocols._shared import hold
from turnout.protocols.decoder import SSEDecoder
from turnout.protocols.openai.errors import parse as parse_error
from turnout.protocols.openai.errors import render_stream
from turnout.protocols.openai.response import FINISH_FROM_IR, finish_to_ir, usage_from_ir
from turnout.protocols.openai.response import usage_to_ir as _usage_to_ir
from turnout.protocols.signatures import encode_tool_call_id

DONE = b"data: [DONE]\n\n"
# What follows a text delta's text in its chunk (StreamEncoder.feed).
_TEXT_TAIL = b'},"logprobs":null,"finish_reason":null}]}\n\n'


class StreamDecoder(SSEDecoder):
    """Upstream OpenAI SSE bytes -> IR events.

    OpenAI streams one tool call after another, so a fragment for a new index ends the
    previous call; a fragment for an already ended call (interleaving, never seen from OpenAI)
    cannot be expressed in block-sequential dialects and is reported as a stream error.
    """

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._done = False
        self._finished = False
        self._current: int | None = None
        self._ir_index: dict[int, int] = {}

    def _complete(self) -> bool:
        return self._done or self._finished

    def _data(self, data: bytes, out: list[StreamEvent]) -> None:
        if self._failed or self._done:
            return
        if data == b"[DONE]":
            self._close_tool(out)
            self._done = True
            return
        try:
            obj: JSON = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._fail(out, "upstream sent a malformed stream chunk")
            return
        if obj.get("error"):
            info = parse_error(500, obj)
            self._failed = True
            out.append(StreamError(info.status, info.kind.value, info.message))
            return
        if not self._started:
            self._started = True
            out.append(StreamStart(obj.get("id"), obj.get("model")))
        for choice in obj.get("choices") or ():
            if choice.get("index", 0) == 0:
                self._choice(choice, out)
        usage = _usage_to_ir(obj.get("usage"))
        if usage is not None:
            out.append(UsageUpdate(usage))

    def _fail(self, out: list[StreamEvent], message: str) -> None:
        self._failed = True
        out.append(StreamError(502, ErrorKind.SERVER.value, message))

    def _close_tool(self, out: list[StreamEvent]) -> None:
        if self._current is not None:
            out.append(ToolCallEnd(self._ir_index[self._current]))
            self._current = None

    def _choice(self, choice: JSON, out: list[StreamEvent]) -> None:
        delta: JSON = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            out.append(ThinkingDelta(reasoning))
        content = delta.get("content")
        if content:
            out.append(TextDelta(content))
        if delta.get("refusal"):
            out.append(TextDelta(delta["refusal"]))
        for call in delta.get("tool_calls") or ():
            self._tool_fragment(call, out)
        raw = choice.get("finish_reason")
        if raw and not self._finished:
            self._close_tool(out)
            self._finished = True
            reason = finish_to_ir(raw)
            assert reason is not None
            out.append(Finish(reason, raw))

    def _tool_fragment(self, call: JSON, out: list[StreamEvent]) -> None:
        index = call.get("index", 0)
        fn: JSON = call.get("function") or {}
        if index != self._current:
            if index in self._ir_index:
                self._fail(out, "interleaved tool call fragments cannot be translated")
                return
            if not self._opened(out):
                return
            self._close_tool(out)
            ir_index = len(self._ir_index)
            self._ir_index[index] = ir_index
            self._current = index
            out.append(
                ToolCallStart(ir_index, call.get("id") or f"call_{ir_index}", fn.get("name") or "")
            )
        args = fn.get("arguments")
        if args:
            out.append(ToolArgsDelta(self._ir_index[index], args))


class StreamEncoder:
    """IR events -> OpenAI SSE frames for an OpenAI client.

    Guarantees: role chunk first, ``tool_calls[].index`` always set, exactly one
    ``finish_reason`` chunk, a ``choices: []`` usage chunk only when ``include_usage``, and
    ``data: [DONE]`` last (omitted after an error frame, so the client sees a failure).
    Signed thinking is carried in the next tool call id (see ``signatures``).
    """

    def __init__(
        self,
        public_model: str,
        *,
        include_usage: bool = False,
        created: int | None = None,
        response_id: str | None = None,
    ) -> None:
        self._model = public_model
        self._include_usage = include_usage
        self._created = created if created is not None else int(time.time())
        self._id = response_id
        self._head = b""
        self._text_head = b""  # a text delta's chunk up to the text (set by _start)
        self._started = False
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._failed = False
        # Thinking held until the next tool call's id carries it (signatures): bounded like any
        # answer held for a client (_shared.hold), since an upstream can think without end.
        self._thinking: list[str] = []
        self._pending: list[ThinkingPart] = []
        self._held = 0  # characters in _thinking and _pending
        self._open = 0  # of which in _thinking

    def _chunk(self, delta: JSON, finish: str | None = None) -> bytes:
        tail = b"null}]}\n\n" if finish is None else orjson.dumps(finish) + b"}]}\n\n"
        return (
            self._head
            + b'"choices":[{"index":0,"delta":'
            + orjson.dumps(delta)
            + b',"logprobs":null,"finish_reason":'
            + tail
        )

    def _start(self, out: list[bytes]) -> None:
        if self._started:
            return
        self._started = True
        self._head = (
            b'data: {"id":'
            + orjson.dumps(self._id or "chatcmpl-turnout")
            + b',"object":"chat.completion.chunk","created":'
            + str(self._created).encode()
            + b',"model":'
            + orjson.dumps(self._model)
            + b","
        )
        self._text_head = self._head + b'"choices":[{"index":0,"delta":{"content":'
        out.append(self._chunk({"role": "assistant", "content": ""}))

    def feed(self, event: StreamEvent) -> list[bytes]:
        if type(event) is TextDelta and self._started and not self._failed:
            # Most events of a stream: straight to their chunk, around the text's JSON.
            text = event.text
            return [self._text_head + orjson.dumps(text) + _TEXT_TAIL] if text else []
        out: list[bytes] = []
        if self._failed:
            return out
        if isinstance(event, StreamStart):
            if not self._started and self._id is None:
                self._id = event.id
            self._start(out)
            return out
        if isinstance(event, StreamError):
            self._failed = True
            out.append(render_stream(ErrorInfo(event.status, ErrorKind(event.kind), event.message)))
            return out
        self._start(out)
        if isinstance(event, TextDelta):
            if event.text:
                out.append(self._chunk({"content": event.text}))
        elif isinstance(event, ThinkingDelta):
            self._held = hold(self._held, event.text)
            self._open += len(event.text)
            self._thinking.append(event.text)
            if event.text:
                out.append(self._chunk({"reasoning_content": event.text}))
        elif isinstance(event, ThinkingSignature):
            self._held = hold(self._held, event.signature)
            self._pending.append(
                ThinkingPart("".join(self._thinking), event.signature, source=event.source)
            )
            self._thinking.clear()
            self._open = 0  # its text is held in _pending now
        elif isinstance(event, RedactedThinking):
            self._held = hold(self._held, event.data)
            self._pending.append(ThinkingPart(redacted=event.data, source="anthropic"))
        elif isinstance(event, BlockStop):
            self._thinking.clear()
            self._held -= self._open
            self._open = 0
        elif isinstance(event, ToolCallStart):
            call_id = encode_tool_call_id(event.id, self._pending)
            self._pending = []
            self._thinking.clear()
            self._held = self._open = 0
            out.append(
                self._chunk(
                    {
                        "tool_calls": [
                            {
                                "index": event.index,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": event.name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
        elif isinstance(event, ToolArgsDelta):
            if event.partial_json:
                out.append(
                    self._chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": event.index,
                                    "function": {"arguments": event.partial_json},
                                }
                            ]
                        }
                    )
                )
        elif isinstance(event, Finish):
            if self._finish is None:
                self._finish = FINISH_FROM_IR[event.reason]
                out.append(self._chunk({}, self._finish))
        elif isinstance(event, UsageUpdate):
            self._usage = event.usage
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        if self._failed:
            return out
        self._start(out)
        if self._finish is None:
            self._finish = "stop"
            out.append(self._chunk({}, self._finish))
        if self._include_usage:
            usage = usage_from_ir(self._usage or Usage())
            out.append(self._head + b'"choices":[],"usage":' + orjson.dumps(usage) + b"}\n\n")
        out.append(DONE)
        return out
