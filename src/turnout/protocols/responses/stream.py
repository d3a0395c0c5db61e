"""Responses API SSE <-> IR stream events.

The encoder writes every event the OpenAI SDK's stream accumulator expects, in its order:
``response.created`` and ``response.in_progress``; per output item ``output_item.added``,
its parts (``content_part.added``/``reasoning_summary_part.added``), deltas, their ``done``
events and ``output_item.done``; then ``response.completed`` (or ``response.incomplete``)
carrying the whole response with its usage. ``sequence_number`` counts every event from 0.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from turnout.ir import (
    JSON,
    BlockStop,
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
from turnout.protocols.responses import reasoning
from turnout.protocols.responses.errors import event_status
from turnout.protocols.responses.response import (
    call_item,
    envelope,
    message_item,
    new_id,
    reasoning_item,
    status_of,
    usage_to_ir,
)
from turnout.protocols.sse import frame

_ENDS = frozenset({"response.completed", "response.incomplete"})


class StreamDecoder(SSEDecoder):
    """Upstream Responses SSE bytes -> IR events (the event type is in every payload)."""

    def __init__(self) -> None:
        super().__init__()
        self._done = False
        self._calls: dict[int, int] = {}  # output_index -> IR tool call index
        self._args: set[int] = set()  # output indexes whose arguments arrived as deltas
        self._thought: set[int] = set()  # reasoning items whose text arrived as deltas

    def _complete(self) -> bool:
        return self._done

    def _data(self, data: bytes, out: list[StreamEvent]) -> None:
        if self._failed or self._done:
            return
        try:
            obj: JSON = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._fail(out, "upstream sent a malformed stream event")
            return
        if not isinstance(obj, dict):
            self._fail(out, "upstream sent a malformed stream event")
            return
        kind = obj.get("type")
        if kind == "response.created":
            response = obj.get("response") or {}
            out.append(StreamStart(response.get("id"), response.get("model")))
        elif kind == "response.output_text.delta" or kind == "response.refusal.delta":
            if obj.get("delta"):
                out.append(TextDelta(obj["delta"]))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            if obj.get("delta"):
                at = obj.get("output_index", -1)
                if at not in self._thought and not self._opened(out):
                    return
                self._thought.add(at)
                out.append(ThinkingDelta(obj["delta"]))
        elif kind == "response.output_item.added":
            item = obj.get("item") or {}
            if item.get("type") == "function_call":
                index = len(self._calls)
                at = obj.get("output_index", index)
                if at not in self._calls and not self._opened(out):
                    return
                self._calls[at] = index
                call_id = item.get("call_id") or item.get("id") or f"call_{index}"
                out.append(ToolCallStart(index, call_id, item.get("name") or ""))
        elif kind == "response.function_call_arguments.delta":
            at = obj.get("output_index", -1)
            if at in self._calls and obj.get("delta"):
                self._args.add(at)
                out.append(ToolArgsDelta(self._calls[at], obj["delta"]))
        elif kind == "response.output_item.done":
            self._item_done(obj.get("output_index", -1), obj.get("item") or {}, out)
        elif kind in _ENDS:
            self._end(obj.get("response") or {}, out)
        elif kind == "response.failed":
            failure = (obj.get("response") or {}).get("error") or {}
            self._error(failure.get("code"), failure.get("message"), out)
        elif kind == "error" or (kind is None and obj.get("error")):
            inner = obj.get("error")
            error: JSON = inner if isinstance(inner, dict) else obj
            self._error(error.get("code") or error.get("type"), error.get("message"), out)

    def _item_done(self, at: int, item: JSON, out: list[StreamEvent]) -> None:
        kind = item.get("type")
        if kind == "function_call" and at in self._calls:
            if at not in self._args and item.get("arguments"):
                out.append(ToolArgsDelta(self._calls[at], item["arguments"]))
            out.append(ToolCallEnd(self._calls[at]))
        elif kind == "reasoning":
            carried = reasoning.decode(item.get("encrypted_content"))
            if at not in self._thought:
                text = "".join(s.get("text", "") for s in item.get("summary") or ())
                if carried is not None and carried.text:
                    text = carried.text
                if text:
                    out.append(ThinkingDelta(text))
            if carried is not None and carried.redacted is not None:
                out.append(RedactedThinking(carried.redacted))
            elif carried is not None and carried.signature and carried.source:
                out.append(ThinkingSignature(carried.signature, carried.source))
            else:
                out.append(BlockStop())
        elif kind == "message":
            out.append(BlockStop())

    def _end(self, response: JSON, out: list[StreamEvent]) -> None:
        self._done = True
        usage = usage_to_ir(response.get("usage"))
        if usage is not None:
            out.append(UsageUpdate(usage))
        status = response.get("status")
        if status == "incomplete":
            reason = (response.get("incomplete_details") or {}).get("reason")
            finish = (
                FinishReason.CONTENT_FILTER if reason == "content_filter" else FinishReason.LENGTH
            )
        else:
            finish = FinishReason.TOOL_CALLS if self._calls else FinishReason.STOP
        out.append(Finish(finish, status if isinstance(status, str) else None))

    def _error(self, code: Any, message: Any, out: list[StreamEvent]) -> None:
        status, kind = event_status(code)
        self._failed = True
        text = message if isinstance(message, str) and message else "upstream stream failed"
        out.append(StreamError(status, kind.value, text))

    def _fail(self, out: list[StreamEvent], message: str) -> None:
        self._failed = True
        out.append(StreamError(502, ErrorKind.SERVER.value, message))


class StreamEncoder:
    """IR events -> Responses SSE events for a Responses client.

    Signed thinking becomes a reasoning item whose ``encrypted_content`` carries it
    (:mod:`~turnout.protocols.responses.reasoning`); unsigned thinking one with its summary
    only.
    """

    def __init__(self, public_model: str, *, created: int | None = None) -> None:
        self._model = public_model
        self._created = created if created is not None else int(time.time())
        self._id = new_id("resp")
        self._seq = 0
        self._started = False
        self._failed = False
        self._output: list[JSON] = []  # finished items, in output order
        self._open: str | None = None  # "reasoning" | "message" | "call"
        self._item_id = ""
        self._text: list[str] = []
        self._held = 0  # characters of the answer held for response.completed (_shared.hold)
        self._call: tuple[str, str] = ("", "")  # (call_id, name) of the open call
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None

    # -- framing --------------------------------------------------------------------------------
    def _event(self, out: list[bytes], kind: str, fields: JSON) -> None:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        out.append(frame(orjson.dumps(payload), kind))

    def _response(self, status: str, **extra: Any) -> JSON:
        usage = self._usage if status != "in_progress" else None
        incomplete = extra.pop("incomplete", None)
        body = envelope(
            self._id, self._model, self._created, status, list(self._output), usage, incomplete
        )
        body.update(extra)
        return body

    def _start(self, out: list[bytes]) -> None:
        if self._started:
            return
        self._started = True
        self._event(out, "response.created", {"response": self._response("in_progress")})
        self._event(out, "response.in_progress", {"response": self._response("in_progress")})

    @property
    def _index(self) -> int:
        return len(self._output)

    # -- items ----------------------------------------------------------------------------------
    def _open_item(self, out: list[bytes], kind: str, item: JSON) -> None:
        self._open = kind
        self._item_id = item["id"]
        self._text = []
        self._event(out, "response.output_item.added", {"output_index": self._index, "item": item})

    def _where(self) -> JSON:
        return {"item_id": self._item_id, "output_index": self._index}

    def _open_reasoning(self, out: list[bytes]) -> None:
        if self._open == "reasoning":
            return
        self._close(out)
        item = {"id": new_id("rs"), "type": "reasoning", "summary": []}
        self._open_item(out, "reasoning", item)
        part = {"type": "summary_text", "text": ""}
        self._event(
            out, "response.reasoning_summary_part.added",
            {**self._where(), "summary_index": 0, "part": part},
        )  # fmt: skip

    def _open_message(self, out: list[bytes]) -> None:
        if self._open == "message":
            return
        self._close(out)
        item = message_item(new_id("msg"), [], "in_progress")
        self._open_item(out, "message", item)
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        self._event(
            out, "response.content_part.added", {**self._where(), "content_index": 0, "part": part}
        )

    def _close(self, out: list[bytes], thinking: ThinkingPart | None = None) -> None:
        """Finish the open item; ``thinking`` is the state a signature just closed."""
        kind, text = self._open, "".join(self._text)
        if kind is None:
            return
        where = self._where()
        if kind == "reasoning":
            part = thinking or ThinkingPart(text)
            part.text = text
            self._event(
                out, "response.reasoning_summary_text.done",
                {**where, "summary_index": 0, "text": text},
            )  # fmt: skip
            self._event(
                out, "response.reasoning_summary_part.done",
                {**where, "summary_index": 0, "part": {"type": "summary_text", "text": text}},
            )  # fmt: skip
            item = reasoning_item(self._item_id, part)
            item["summary"] = [{"type": "summary_text", "text": text}]
        elif kind == "message":
            content = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            self._event(
                out, "response.output_text.done",
                {**where, "content_index": 0, "text": text, "logprobs": []},
            )  # fmt: skip
            self._event(
                out, "response.content_part.done", {**where, "content_index": 0, "part": content}
            )
            item = message_item(self._item_id, [])
            item["content"] = [content]
        else:
            call_id, name = self._call
            self._event(
                out, "response.function_call_arguments.done",
                {**where, "name": name, "arguments": text},
            )  # fmt: skip
            item = call_item(self._item_id, call_id, name, text, "completed")
        self._event(out, "response.output_item.done", {"output_index": self._index, "item": item})
        # An item's dicts and ids cost about a kilobyte: a stream of empty tool calls is held too.
        self._held = hold(self._held, "", 1024)
        self._output.append(item)
        self._open = None

    def _state_item(self, out: list[bytes], part: ThinkingPart) -> None:
        """A reasoning item for state that arrived with no open thinking (a redacted block, a
        bare Gemini signature)."""
        self._close(out)
        self._open_reasoning(out)
        self._close(out, part)

    # -- the encoder ----------------------------------------------------------------------------
    def feed(self, event: StreamEvent) -> list[bytes]:
        out: list[bytes] = []
        if self._failed:
            return out
        if isinstance(event, StreamStart):
            self._start(out)
            return out
        if isinstance(event, StreamError):
            self._failed = True
            out.extend(self._failed_events(event))
            return out
        self._start(out)
        if isinstance(event, TextDelta):
            if event.text:
                self._open_message(out)
                self._held = hold(self._held, event.text)
                self._text.append(event.text)
                self._event(
                    out, "response.output_text.delta",
                    {**self._where(), "content_index": 0, "delta": event.text, "logprobs": []},
                )  # fmt: skip
        elif isinstance(event, ThinkingDelta):
            if event.text:
                self._open_reasoning(out)
                self._held = hold(self._held, event.text)
                self._text.append(event.text)
                self._event(
                    out, "response.reasoning_summary_text.delta",
                    {**self._where(), "summary_index": 0, "delta": event.text},
                )  # fmt: skip
        elif isinstance(event, ThinkingSignature):
            part = ThinkingPart(signature=event.signature, source=event.source)
            if self._open == "reasoning":
                self._close(out, part)
            else:
                self._state_item(out, part)
        elif isinstance(event, RedactedThinking):
            self._state_item(out, ThinkingPart(redacted=event.data, source="anthropic"))
        elif isinstance(event, BlockStop):
            self._close(out)
        elif isinstance(event, ToolCallStart):
            self._close(out)
            self._call = (event.id, event.name)
            item = call_item(new_id("fc"), event.id, event.name, "", "in_progress")
            self._open_item(out, "call", item)
        elif isinstance(event, ToolArgsDelta):
            if event.partial_json and self._open == "call":
                self._held = hold(self._held, event.partial_json)
                self._text.append(event.partial_json)
                self._event(
                    out, "response.function_call_arguments.delta",
                    {**self._where(), "delta": event.partial_json},
                )  # fmt: skip
        elif isinstance(event, ToolCallEnd):
            if self._open == "call":
                self._close(out)
        elif isinstance(event, Finish):
            self._finish = event.reason
        elif isinstance(event, UsageUpdate):
            self._usage = event.usage
        return out

    def _failed_events(self, event: StreamError) -> list[bytes]:
        from turnout.protocols.responses.errors import event_code

        out: list[bytes] = []
        self._start(out)
        code = event_code(event.status)
        error = {"code": code, "message": event.message}
        self._event(out, "response.failed", {"response": self._response("failed", error=error)})
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        if self._failed:
            return out
        self._start(out)
        self._close(out)
        status, incomplete = status_of(self._finish)
        self._usage = self._usage or Usage()
        response = self._response(status, incomplete=incomplete)
        response["completed_at"] = int(time.time()) if status == "completed" else None
        self._event(out, f"response.{status}", {"response": response})
        return out
