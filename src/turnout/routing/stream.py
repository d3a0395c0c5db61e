"""A stream the router has committed to: its first chunk arrived, so the client gets it.

Failover is possible only until then; afterwards a failure is the client's to see (the API
layer writes an error frame and aborts). This wrapper replays the first chunk, and when the
stream ends, fails or is abandoned it releases the deployment's in-flight slot exactly once
and counts a mid-stream failure toward the deployment's breaker. It is a class rather than an
async generator so that closing it before the first iteration still releases the slot.

It also masks the provider key the attempt was sent with in every chunk
(:mod:`turnout.providers.keymask`): here rather than in a wrapper of its own, since every
chunk of every committed stream already passes through this one ``__anext__``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from turnout.errors import GatewayError, UpstreamTimeout
from turnout.health.targets import DeploymentHealth
from turnout.providers.keymask import scrub


async def aclose(chunks: AsyncIterator[bytes]) -> None:
    """Close an async iterator early so its upstream connection is released now, not at GC."""
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


class Committed:
    __slots__ = ("_chunks", "_clock", "_first", "_health", "_held", "_key", "_open")

    def __init__(
        self,
        first: bytes,
        chunks: AsyncIterator[bytes],
        health: DeploymentHealth,
        clock: Callable[[], float],
        key: bytes | None = None,
    ) -> None:
        self._first: bytes | None = first
        self._chunks = chunks
        self._health = health
        self._clock = clock
        self._open = True
        self._key = key  # the provider key to mask (None: too short to search for)
        self._held = b""  # a tail that may start the key the next chunk completes

    def __aiter__(self) -> Committed:
        return self

    async def __anext__(self) -> bytes:
        chunk = self._first
        if chunk is not None:
            self._first = None
        else:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._end(None)
                held, self._held = self._held, b""
                if held:  # the end: what was held was no key after all
                    return held
                raise
            except GatewayError as exc:
                self._end(exc)
                raise
            except BaseException:
                self._end(None)
                raise
        key = self._key
        # The fast path: nothing held, a last byte (an SSE chunk's newline) that cannot start
        # a key, and no copy of it. ``find`` and an int's ``in``: cheaper than ``in`` on bytes.
        if key is None or (
            not self._held and chunk and chunk[-1] not in key and chunk.find(key) < 0
        ):
            return chunk
        out, self._held = scrub(self._held + chunk, key)
        # All of it held (a chunk inside the key): the next one decides, at most len(key) on.
        return out if out else await self.__anext__()

    async def aclose(self) -> None:
        self._end(None)
        await aclose(self._chunks)

    def _end(self, exc: GatewayError | None) -> None:
        if not self._open:
            return
        self._open = False
        health = self._health
        health.leave()
        if exc is not None and exc.status >= 500:
            reason = "timeout" if isinstance(exc, UpstreamTimeout) else "server_error"
            health.fail(self._clock(), reason)

    def __del__(self) -> None:
        self._end(None)
