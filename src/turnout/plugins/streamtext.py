"""Rewrite the text of a streamed answer as it passes, with a bounded hold-back.

A word a guardrail must catch can be split across chunks anywhere ("jo" | "hn@example.com"),
so the text of each stream is run through a :class:`TextFilter` that returns what may be sent
now and what it must still hold: at most its window plus one unfinished match. The held text
is sent with the slot's latest event, which is itself held until the next event of that slot
(or any other event) arrives, so a stream's events keep their order and their other fields,
and no event is invented. Streams of every protocol are handled by their event shapes:

- OpenAI chat: ``choices[].delta.content``;
- Anthropic: ``content_block_delta`` events with a ``text_delta``;
- Gemini: ``candidates[].content.parts[].text``;
- OpenAI Responses: ``response.output_text.delta`` events' ``delta``.

Every other event (a stream's start and end, usage, whole texts such as Responses' ``done``
events) first releases everything held, then passes with its texts rewritten whole.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Protocol

import orjson

from turnout.plugins.text import rewrite
from turnout.protocols.sse import SSEParser, frame

MAX_SLOTS = 64  # text streams at once (choices, blocks); beyond: everything is released


class TextFilter(Protocol):
    def split(self, text: str, final: bool) -> tuple[str, str]:
        """(rewritten text that may be sent now, raw text still held); ``final``: hold
        nothing."""
        ...


Slot = tuple[Hashable, dict[str, Any], str]  # (stream key, object holding the text, its key)


def _key(value: Any) -> Hashable:
    return value if isinstance(value, int | str) and not isinstance(value, bool) else repr(value)


def deltas(obj: Any) -> list[Slot]:
    """The text deltas an event carries, with where each lives."""
    if not isinstance(obj, dict):
        return []
    out: list[Slot] = []
    choices = obj.get("choices")
    if isinstance(choices, list):
        for i, c in enumerate(choices):
            d = c.get("delta") if isinstance(c, dict) else None
            if isinstance(d, dict) and isinstance(d.get("content"), str):
                out.append((("choice", _key(c.get("index", i))), d, "content"))
    kind = obj.get("type")
    if kind == "content_block_delta":
        d = obj.get("delta")
        if isinstance(d, dict) and d.get("type") == "text_delta" and isinstance(d.get("text"), str):
            out.append((("block", _key(obj.get("index"))), d, "text"))
    elif kind == "response.output_text.delta" and isinstance(obj.get("delta"), str):
        slot = ("output", _key(obj.get("output_index")), _key(obj.get("content_index")))
        out.append((slot, obj, "delta"))
    candidates = obj.get("candidates")
    if isinstance(candidates, list):
        for i, c in enumerate(candidates):
            content = c.get("content") if isinstance(c, dict) else None
            parts = content.get("parts") if isinstance(content, dict) else None
            for j, part in enumerate(parts if isinstance(parts, list) else []):
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str) and not part.get("thought"):
                    out.append((("cand", _key(c.get("index", i)), j), part, "text"))
    return out


class _Held:
    __slots__ = ("carries", "event", "obj")

    def __init__(self, event: str | None, obj: Any) -> None:
        self.event = event
        self.obj = obj
        self.carries = 0  # slots whose held text this event will carry


class StreamText:
    """One stream's rewriter: feed it the stream's bytes, send what it returns."""

    def __init__(self, filt: TextFilter) -> None:
        self.filt = filt
        self.whole: Callable[[str], str] = lambda text: filt.split(text, True)[0]
        self.parser = SSEParser()
        self.tails: dict[Hashable, str] = {}
        self.carriers: dict[Hashable, tuple[_Held, dict[str, Any], str]] = {}
        self.held: deque[_Held] = deque()

    def feed(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        for ev in self.parser.feed(chunk):
            self._event(ev.event, ev.data, out)
        return b"".join(out)

    def finish(self) -> bytes:
        out: list[bytes] = []
        for ev in self.parser.finish():
            self._event(ev.event, ev.data, out)
        self._release(out)
        return b"".join(out)

    def _event(self, event: str | None, data: bytes, out: list[bytes]) -> None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:  # [DONE] and the like
            self._release(out)
            out.append(frame(data, event))
            return
        slots = deltas(obj)
        if not slots or len(self.carriers) + len(slots) > MAX_SLOTS:
            self._release(out)
            if not slots:
                obj, _ = rewrite(obj, self.whole)
                out.append(frame(orjson.dumps(obj), event))
                return
        held = _Held(event, obj)
        for key, holder, field in slots:
            old = self.carriers.get(key)
            if old is not None:
                old[0].carries -= 1
            text, self.tails[key] = self.filt.split(self.tails.get(key, "") + holder[field], False)
            holder[field] = text
            self.carriers[key] = (held, holder, field)
            held.carries += 1
        self.held.append(held)
        while self.held and self.held[0].carries == 0:
            h = self.held.popleft()
            out.append(frame(orjson.dumps(h.obj), h.event))

    def _release(self, out: list[bytes]) -> None:
        """Send everything held, each slot's held text with its latest event."""
        for key, (_, holder, field) in self.carriers.items():
            tail = self.tails.pop(key, "")
            if tail:
                holder[field] += self.filt.split(tail, True)[0]
        self.carriers.clear()
        self.tails.clear()
        while self.held:
            h = self.held.popleft()
            out.append(frame(orjson.dumps(h.obj), h.event))


class ArrayText:
    """The same rewriting for a stream that is one JSON array of chunks (Gemini without
    ``alt=sse``): gathered up to ``limit`` bytes, then its elements pass a
    :class:`StreamText` as events would, since a word may be split between two of them.
    ``unreadable`` is called with the body when it is not such an array; it returns what to
    send instead (or raises)."""

    def __init__(self, filt: TextFilter, limit: int, unreadable: Callable[[bytes], bytes]):
        self.filt = filt
        self.limit = limit
        self.unreadable = unreadable
        self.parts: list[bytes] = []
        self.size = 0

    def feed(self, chunk: bytes) -> bytes:
        self.parts.append(chunk)
        self.size += len(chunk)
        if self.size > self.limit:
            raise ValueError(f"a stream of more than {self.limit} bytes cannot be checked whole")
        return b""

    def finish(self) -> bytes:
        body = b"".join(self.parts)
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError:
            items = None
        if not isinstance(items, list):
            return self.unreadable(body)
        stream = StreamText(self.filt)
        out = stream.feed(b"".join(frame(orjson.dumps(item)) for item in items))
        out += stream.finish()
        parser = SSEParser()
        events = [*parser.feed(out), *parser.finish()]
        return b"[" + b",\r\n".join(ev.data for ev in events) + b"]"


def rewriter(
    filt: TextFilter, sse: bool, limit: int, unreadable: Callable[[bytes], bytes]
) -> StreamText | ArrayText:
    """The rewriter for a stream of this framing."""
    return StreamText(filt) if sse else ArrayText(filt, limit, unreadable)
