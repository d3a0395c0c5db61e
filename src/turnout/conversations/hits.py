"""A cached Responses answer replayed to another request gets a response id of its own.

The cache serves one stored answer to every identical request of a namespace (a team's keys by
default), id included. The first caller's id is that caller's (the conversation store holds
it under their key); a second caller given the same id could neither retrieve, delete nor
continue it, and keeping it for them would replace the first caller's record. So a hit is
renamed, body or stream, before the conversation step keeps it: every response a client is
given is one it alone holds, as at OpenAI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from turnout.protocols.responses.response import new_id

_FIRST_FRAME_MAX = 65536  # a response.created frame is far smaller; past this, relay as it is


def _rename(data: bytes, old: str, new: str) -> bytes:
    return data.replace(orjson.dumps(old), orjson.dumps(new))


def response_id(obj: Any) -> str | None:
    rid = obj.get("id") if isinstance(obj, dict) else None
    return rid if isinstance(rid, str) and rid.startswith("resp") else None


def renamed_body(body: bytes) -> bytes:
    """A replayed response object with a fresh id (a body that is not one is left alone)."""
    try:
        old = response_id(orjson.loads(body))
    except orjson.JSONDecodeError:
        return body
    return body if old is None else _rename(body, old, new_id("resp"))


async def renamed_stream(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A replayed stream with a fresh response id: its first frame (``response.created``)
    names the old one, which every later lifecycle event repeats."""
    head: bytes | None = b""  # until the first frame is whole; None after
    old: str | None = None  # the id to replace, once found (never, if the frame has none)
    new = new_id("resp")
    try:
        async for chunk in chunks:
            if head is None:
                yield chunk if old is None else _rename(chunk, old, new)
                continue
            head += chunk
            if b"\n\n" not in head and len(head) <= _FIRST_FRAME_MAX:
                continue
            old = first_id(head.split(b"\n\n", 1)[0])
            yield head if old is None else _rename(head, old, new)
            head = None
        if head:  # a stream shorter than its first frame
            yield head
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def frame_event(frame: bytes) -> dict[str, Any] | None:
    """The event object of an SSE frame (its first ``data:`` line), or None."""
    for line in frame.split(b"\n"):
        if line.startswith(b"data:"):
            try:
                event = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                return None
            return event if isinstance(event, dict) else None
    return None


def first_id(frame: bytes) -> str | None:
    """The response id in a stream's first frame (``response.created``)."""
    event = frame_event(frame)
    return response_id(event.get("response")) if event is not None else None
