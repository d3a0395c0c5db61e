"""OpenAI usage: ``usage`` in a completion body, and the usage chunk of a stream.

OpenAI streams carry usage only when the request says ``stream_options.include_usage``. When a
client did not ask, the gateway asks for it upstream (:func:`ask_for_usage`) and removes the
extra chunk from what the client receives (:class:`OpenAIStream` in stripping mode), so the
client sees the stream it asked for and the log still gets token counts. The ``"usage":null``
keys that then appear in every other chunk are valid in the client's protocol and left alone.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.protocols.openai.response import usage_to_ir
from turnout.protocols.sse import MAX_EVENT_BYTES
from turnout.types import Call, Usage
from turnout.usage.base import from_ir
from turnout.usage.scan import KeyTail, last_object, object_after

KEY = b'"usage"'
_ASK = b'"stream_options":{"include_usage":true},'
# The usage chunk is the one whose usage is an object rather than null.
_MARKS = (b'"usage":{', b'"usage": {')
# ... and, to be cut out, one that answers nothing else (OpenAI's: an empty ``choices``, or
# none at all).
_CHOICES = b'"choices"'
_NO_CHOICES = (b'"choices":[]', b'"choices": []')


def parse(obj: dict[str, Any] | None) -> Usage | None:
    return from_ir(usage_to_ir(obj)) if obj else None


def from_body(body: bytes) -> Usage | None:
    return parse(last_object(body, KEY))


# The operations whose streams take ``stream_options.include_usage`` (legacy completions as
# well as chat: the same option, the same usage-only last chunk with empty ``choices``).
ASKS = frozenset({"chat", "completions"})


def observe(call: Call, ask: bool) -> OpenAIStream:
    """The observer of a stream; with ``ask``, a chat or completions stream that did not ask
    for usage is made to (and the observer hides the extra chunk from the client)."""
    return OpenAIStream(ask and call.operation in ASKS and ask_for_usage(call))


def ask_for_usage(call: Call) -> bool:
    """Make a chat (or completions) stream request ask for usage; True when the client had
    not asked (so the usage chunk must be hidden from it).

    A body without ``stream_options`` gets the option spliced in after its opening brace (a
    copy of the bytes, no re-encoding); otherwise the parsed request is re-encoded once.
    """
    data = call.data
    options = data.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return False
    if call.client_body is None:
        call.client_body = call.body
    if "stream_options" not in data and (brace := call.body.find(b"{")) != -1:
        body = call.body
        call.body = body[: brace + 1] + _ASK + body[brace + 1 :]
        data["stream_options"] = {"include_usage": True}
    else:
        base = options if isinstance(options, dict) else {}
        data["stream_options"] = {**base, "include_usage": True}
        call.body = orjson.dumps(data)
    return True


class OpenAIStream:
    """Remembers the usage chunk; in stripping mode also cuts it out of the stream.

    Stripping must see whole lines, so in that mode an incomplete last line of a chunk is held
    back until the next chunk completes it (an SSE client cannot act on half a line anyway).
    Upstreams write one event per chunk, so in practice nothing is held.
    """

    __slots__ = ("_blank", "_held", "_line", "_strip", "_tail")

    def __init__(self, strip: bool) -> None:
        self._strip = strip
        self._tail = KeyTail(KEY)
        self._held = b""
        self._line: bytes | None = None  # the stripped usage line
        self._blank = False  # the stripped event's blank line is still to come

    def feed(self, chunk: bytes) -> bytes:
        if not self._strip:
            self._tail.feed(chunk)
            return chunk
        if self._held:
            chunk = self._held + chunk
            self._held = b""
        if self._blank:
            self._blank = False
            if chunk.startswith(b"\r\n"):
                chunk = chunk[2:]
            elif chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if not chunk.endswith(b"\n"):
            cut = chunk.rfind(b"\n") + 1
            if len(chunk) - cut > MAX_EVENT_BYTES:
                # A line that never ends is not held back any longer: relay it as it comes
                # and read usage the non-stripping way from here on.
                self._strip = False
                self._tail.feed(chunk)
                return chunk
            self._held = chunk[cut:]
            chunk = chunk[:cut]
        # Searched from the end: the usage chunk is a stream's last event (before [DONE]), so
        # in a read that carries it the search stops a few hundred bytes in, not after the
        # whole read (~2 µs for 5 kB) twice.
        at = chunk.rfind(_MARKS[0])
        if at == -1:
            at = chunk.rfind(_MARKS[1])
        if at != -1:
            chunk = self._cut(chunk, at)
        return chunk

    def _cut(self, chunk: bytes, at: int) -> bytes:
        start = chunk.rfind(b"\n", 0, at) + 1
        end = chunk.find(b"\n", at) + 1  # complete lines only: the newline exists
        line = self._line = chunk[start:end]
        if (
            line.find(_CHOICES) >= 0
            and line.find(_NO_CHOICES[0]) < 0
            and line.find(_NO_CHOICES[1]) < 0
        ):
            # Usage in a chunk that also answers (a finish reason, text: servers that put usage
            # in their last content chunk, Groq's ``x_groq.usage``): the chunk is the client's,
            # and an extra key in it is valid in its protocol. Only the usage-only chunk the
            # gateway asked for is taken out.
            return chunk
        # The event's blank line goes too (in this chunk, or at the start of the next).
        if chunk.startswith(b"\r\n", end):
            end += 2
        elif chunk.startswith(b"\n", end):
            end += 1
        else:
            self._blank = end == len(chunk)
        return chunk[:start] + chunk[end:]

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return held

    def usage(self) -> Usage | None:
        if not self._strip:
            return parse(self._tail.last())
        line = self._line
        if line is None:
            return None
        # The line is the usage chunk's whole ``data:`` line: one parse of its JSON costs less
        # than finding the object's end by its braces first (1.2 against 2.2 µs).
        try:
            chunk = orjson.loads(line[line.find(b"{") :])
        except orjson.JSONDecodeError:
            return parse(object_after(line, line.find(KEY) + len(KEY)))
        usage = chunk.get("usage") if isinstance(chunk, dict) else None
        if isinstance(usage, dict):
            return parse(usage)
        # Nested elsewhere in the chunk (``x_groq.usage``): the object after the last key.
        return parse(object_after(line, line.rfind(KEY) + len(KEY)))
