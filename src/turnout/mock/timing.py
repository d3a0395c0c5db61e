"""Playing a :class:`~turnout.mock.engine.MockResponse` out over time.

The server and the gateway's in-process mock provider share these helpers, so delays and
connection-level faults behave the same with or without a socket: ``disconnect`` raises
:class:`MockDisconnect` where a real client would see a reset, ``hang`` waits until the
consumer gives up (cancellation), and a non-stream ``truncate`` raises after "half a body".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from turnout.mock.engine import MockResponse
from turnout.mock.faults import fault_cut


class MockDisconnect(ConnectionResetError):
    """The mock dropped the connection on purpose (``disconnect`` / ``truncate`` faults).

    A subclass of :class:`ConnectionResetError` so in-process callers can treat it exactly
    like the network error the HTTP server would cause.
    """


async def _hang() -> None:
    # An Event nobody sets: only cancellation (the client giving up) ends the wait.
    await asyncio.Event().wait()


async def iter_frames(resp: MockResponse) -> AsyncIterator[bytes]:
    """Yield the stream frames with ``ttft_ms`` before the first and ``chunk_ms`` between.

    ``disconnect`` raises :class:`MockDisconnect` and ``hang`` blocks forever at the cut
    point (about half way), after at least one frame has been delivered.
    """
    frames = resp.frames or []
    cut = fault_cut(len(frames)) if resp.fault in ("disconnect", "hang") else -1
    if resp.ttft_ms > 0:
        await asyncio.sleep(resp.ttft_ms / 1000)
    delay = resp.chunk_ms / 1000
    for i, frame in enumerate(frames):
        if i == cut:
            if resp.fault == "disconnect":
                raise MockDisconnect("mock fault: disconnect mid-stream")
            await _hang()
        if i and delay > 0:
            await asyncio.sleep(delay)
        yield frame


async def read_body(resp: MockResponse) -> bytes:
    """The non-stream body after ``ttft_ms``, or the fault a client would experience."""
    if resp.ttft_ms > 0:
        await asyncio.sleep(resp.ttft_ms / 1000)
    if resp.fault == "hang":
        await _hang()
    if resp.fault == "disconnect":
        raise MockDisconnect("mock fault: connection closed before the response")
    if resp.fault == "truncate":
        raise MockDisconnect("mock fault: connection closed mid-body")
    return resp.body or b""
