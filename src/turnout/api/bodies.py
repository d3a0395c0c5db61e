"""Request bodies held at once, all connections together, and their bound.

``server.max_body_bytes`` bounds one body; nothing bounded them all. Before (2026-12-08),
fifty clients each sending a 10 MB body and stalling before its last bytes made the gateway
hold 583 MB (and fifty more, 1.1 GB: the process is the OOM killer's to take, with every
request in it). Now a body over :data:`SMALL` bytes is counted from the moment its size is
known (its ``Content-Length``, or as a chunked one grows) until its request ends, and one
that would take the count past ``server.max_held_body_bytes`` is refused at once with a
retryable 503 in the request's protocol, before the rest of it is read.

Bodies up to :data:`SMALL` are not counted: nearly every call is one, and what they hold is
bounded by the connections (a connection reads no further than one request's body at a time,
and uvicorn pauses reading past 64 KiB unread), so the common path pays one comparison.
"""

from __future__ import annotations

from turnout.errors import Overloaded

SMALL = 64 * 1024


class BodyMemory:
    """The bytes of counted bodies held now, over every request of this process."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = 0

    def take(self, amount: int, room: int) -> None:
        """Count ``amount`` more bytes, or raise :class:`Overloaded` if that would pass
        ``room`` (nothing counted then)."""
        if self.held + amount > room:
            raise Overloaded(
                "The gateway holds as many request bodies as it may at once "
                "(server.max_held_body_bytes); retry shortly.",
                retry_after=1,
            )
        self.held += amount

    def release(self, body: bytes) -> None:
        """A request that read ``body`` (through ``turnout.api.io.read_body``) has ended."""
        if len(body) > SMALL:
            self.held -= len(body)
