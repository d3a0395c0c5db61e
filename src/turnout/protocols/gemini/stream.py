"""Gemini ``streamGenerateContent?alt=sse`` <-> IR stream events.

Gemini sends whole function calls; other dialects stream argument fragments. Decoding turns a
whole call into start + one args delta + end. Encoding buffers only the arguments of the call
in progress (Gemini needs a complete ``args`` object) while text and thoughts stay incremental.
"""

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
from turnout.protocols._shared import hold
from turnout.protocols.decoder import SSEDecoder
from turnout.protocols.gemini.errors import error_json
from turnout.protocols.gemini.errors import parse as parse_error
from turnout.protocols.gemini.parts import SYNTH_ID_PREFIX, g
from turnout.protocols.gemini.response import FINISH_FROM_IR, finish_to_ir, usage_from_ir
from turnout.protocols.gemini.response import usage_to_ir as _usage_to_ir
from turnout.protocols.signatures import to_gemini_envelope


class StreamDecoder(SSEDecoder):
    """Upstream Gemini SSE bytes -> IR events. A stream without finishReason is truncated."""

    incomplete_message = "upstream stream ended without a finishReason"

    def __init__(self, *, id_prefix: str | None = None) -> None:
        super().__init__()
        self._prefix = id_prefix
        self._started = False
        self._tools = 0
        self._finished = False

    def _complete(self) -> bool:
        return self._finished

    def _data(self, data: bytes, out: list[StreamEvent]) -> None:
        if self._failed:
            return
        try:
            obj: JSON = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._failed = True
            out.append(StreamError(502, ErrorKind.SERVER.value, "malformed upstream chunk"))
            return
        if isinstance(obj, list):  # a JSON-array stream (no alt=sse): one answer an element
            # Before, only the first element was read, and an element that was no object was
            # skipped: an upstream's [1, 2] went by as nothing (any other decoder fails on it)
            # and the text of a second answer was lost without a word.
            if not all(type(item) is dict for item in obj):
                self._failed = True
                out.append(StreamError(502, ErrorKind.SERVER.value, "malformed upstream chunk"))
                return
            for item in obj:
                self._answer(item, out)
            return
        self._answer(obj, out)

    def _answer(self, obj: JSON, out: list[StreamEvent]) -> None:
        """One GenerateContentResponse of the stream."""
        if self._failed:
            return
        if obj.get("error"):
            info = parse_error(500, obj)
            self._failed = True
            out.append(StreamError(info.status, info.kind.value, info.message))
            return
        if not self._started:
            self._started = True
            if self._prefix is None:
                self._prefix = f"{SYNTH_ID_PREFIX}{obj.get('responseId') or 'r'}_"
            out.append(StreamStart(obj.get("responseId"), obj.get("modelVersion")))
        candidates = obj.get("candidates") or []
        candidate: JSON = candidates[0] if candidates else {}
        for part in (candidate.get("content") or {}).get("parts") or ():
            self._part(part, out)
        raw = candidate.get("finishReason")
        if not candidates and (obj.get("promptFeedback") or {}).get("blockReason"):
            raw = obj["promptFeedback"]["blockReason"]
            self._finish(Finish(FinishReason.CONTENT_FILTER, raw), out)
        elif raw:
            reason = finish_to_ir(raw, self._tools > 0) or FinishReason.OTHER
            self._finish(Finish(reason, raw), out)
        usage = _usage_to_ir(obj.get("usageMetadata"))
        if usage is not None:
            out.append(UsageUpdate(usage))

    def _finish(self, event: Finish, out: list[StreamEvent]) -> None:
        if not self._finished:
            self._finished = True
            out.append(event)

    def _part(self, part: JSON, out: list[StreamEvent]) -> None:
        signature = g(part, "thoughtSignature", "thought_signature")
        if part.get("thought"):
            if part.get("text"):
                out.append(ThinkingDelta(part["text"]))
            if signature:
                out.append(ThinkingSignature(signature, "gemini"))
            return
        if signature:
            out.append(ThinkingSignature(signature, "gemini"))
        if part.get("text"):
            out.append(TextDelta(part["text"]))
        call = g(part, "functionCall", "function_call")
        if call is not None:
            index = self._tools
            self._tools += 1
            call_id = call.get("id") or f"{self._prefix}{index}"
            out.append(ToolCallStart(index, call_id, call.get("name", "")))
            out.append(ToolArgsDelta(index, orjson.dumps(call.get("args") or {}).decode()))
            out.append(ToolCallEnd(index))


class StreamEncoder:
    """IR events -> a Gemini client's stream: complete JSON responses, finishReason and
    usageMetadata on the last one, no terminator. Framed as SSE (``data: <json>``), or, for a
    client without ``alt=sse`` (``sse=False``), as the one JSON array the REST API writes
    element by element (``[{..}``, ``,\r\n{..}``, ``]``)."""

    def __init__(
        self, public_model: str, *, response_id: str | None = None, sse: bool = True
    ) -> None:
        self._model = public_model
        self._id = response_id
        self._sse = sse
        self._sep = b"["  # the JSON array's next separator
        self._tail = b""
        self._started = False
        self._failed = False
        self._finish: Finish | None = None
        self._usage: Usage | None = None
        self._signature: str | None = None  # a Gemini signature waiting for its part
        self._call: tuple[str, str] | None = None
        self._args: list[str] = []
        self._thinking: list[str] = []  # the open thinking block's text, for its envelope
        self._held = 0  # characters ever held in _args and _thinking (_shared.hold)

    def _frame(self, parts: list[JSON]) -> bytes:
        if not self._tail:
            meta: JSON = {"modelVersion": self._model}
            if self._id:
                meta["responseId"] = self._id
            self._tail = b"}]," + orjson.dumps(meta)[1:]
        return self._wrap(
            b'{"candidates":[{"content":{"role":"model","parts":'
            + orjson.dumps(parts)
            + b'},"index":0'
            + self._tail
        )

    def _wrap(self, body: bytes) -> bytes:
        if self._sse:
            return b"data: " + body + b"\n\n"
        sep, self._sep = self._sep, b",\r\n"
        return sep + body

    def _emit(self, part: JSON, out: list[bytes]) -> None:
        if self._signature is not None and not part.get("thought"):
            part["thoughtSignature"] = self._signature
            self._signature = None
        out.append(self._frame([part]))

    def feed(self, event: StreamEvent) -> list[bytes]:
        out: list[bytes] = []
        if self._failed:
            return out
        if isinstance(event, StreamStart):
            if not self._started and self._id is None:
                self._id = event.id
            self._started = True
        elif isinstance(event, TextDelta):
            self._thinking.clear()
            if event.text:
                self._emit({"text": event.text}, out)
        elif isinstance(event, ThinkingDelta):
            if event.text:
                self._held = hold(self._held, event.text)
                self._thinking.append(event.text)
                self._emit({"text": event.text, "thought": True}, out)
        elif isinstance(event, ThinkingSignature):
            if event.source == "gemini":
                self._signature = event.signature
            else:
                # The envelope carries the block's whole text: what comes back next turn is
                # that text, however the client split or joined the thought parts above.
                text = "".join(self._thinking)
                part = ThinkingPart(text, signature=event.signature, source=event.source)
                self._emit(
                    {"text": "", "thought": True, "thoughtSignature": to_gemini_envelope(part)}, out
                )
            self._thinking.clear()
        elif isinstance(event, BlockStop):
            self._thinking.clear()
        elif isinstance(event, RedactedThinking):
            part = ThinkingPart(redacted=event.data, source="anthropic")
            self._emit(
                {"text": "", "thought": True, "thoughtSignature": to_gemini_envelope(part)}, out
            )
        elif isinstance(event, ToolCallStart):
            self._thinking.clear()
            self._call = (event.id, event.name)
            self._args = []
        elif isinstance(event, ToolArgsDelta):
            self._held = hold(self._held, event.partial_json)
            self._args.append(event.partial_json)
        elif isinstance(event, ToolCallEnd):
            self._end_call(out)
        elif isinstance(event, Finish):
            self._finish = self._finish or event
        elif isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, StreamError):
            self._fail(ErrorInfo(event.status, ErrorKind(event.kind), event.message), out)
        return out

    def _fail(self, info: ErrorInfo, out: list[bytes]) -> None:
        self._failed = True
        out.append(self._wrap(error_json(info)))

    def _end_call(self, out: list[bytes]) -> None:
        if self._call is None:
            return
        call_id, name = self._call
        self._call = None
        text = "".join(self._args)
        try:
            args = orjson.loads(text) if text.strip() else {}
        except orjson.JSONDecodeError:
            args = None
        if not isinstance(args, dict):
            self._fail(
                ErrorInfo(
                    502, ErrorKind.SERVER, f"upstream sent invalid arguments for tool call {name!r}"
                ),
                out,
            )
            return
        call: JSON = {"name": name, "args": args}
        if call_id and not call_id.startswith(SYNTH_ID_PREFIX):
            call["id"] = call_id
        self._emit({"functionCall": call}, out)

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        if not self._failed:
            self._end_call(out)
            if not self._failed:
                out.append(self._wrap(orjson.dumps(self._last())))
        if not self._sse:
            out.append(b"]" if self._sep != b"[" else b"[]")
        return out

    def _last(self) -> JSON:
        """The closing response: finish reason, usage, and any pending signature."""
        part: JSON = {"text": ""}
        if self._signature is not None:
            part["thoughtSignature"] = self._signature
        reason = self._finish.reason if self._finish else FinishReason.STOP
        meta: JSON = {"finishReason": FINISH_FROM_IR[reason], "index": 0}
        usage = usage_from_ir(self._usage or Usage())
        body: JSON = {
            "candidates": [{"content": {"role": "model", "parts": [part]}, **meta}],
            "usageMetadata": usage,
            "modelVersion": self._model,
        }
        if self._id:
            body["responseId"] = self._id
        return body


def array_to_frames(chunks: list[bytes]) -> list[bytes] | None:
    """A stream without ``alt=sse`` (one JSON array) as the SSE frames it stands for, for
    the decoders; None if the array is incomplete."""
    try:
        items = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return None
    return [b"data: " + orjson.dumps(item) + b"\n\n" for item in items]
