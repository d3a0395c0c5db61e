"""Reading requests and writing replies at the ASGI level.

The hot path avoids framework request/response objects: a request body is read once into
bytes, and a reply is two ``send`` calls (or one per stream chunk). Streams watch for the
client going away so the upstream request is cancelled at once instead of generating tokens
nobody will read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from turnout.api.bodies import SMALL, BodyMemory
from turnout.errors import (
    GatewayError,
    PayloadTooLarge,
    StreamIncomplete,
    as_gateway_error,
    error_body,
)
from turnout.errors import stream_error_frame as error_frame
from turnout.names import is_request_id
from turnout.observability.logging import get_logger
from turnout.types import Call, Headers, Receive, Send
from turnout.usage.base import StreamObserver

JSON = (b"content-type", b"application/json")
log = get_logger("turnout")


class StreamAborted(Exception):
    """Raised after an in-stream error frame so the server drops the connection without the
    closing chunk: a clean end would look like success to a client that missed the frame."""


class ClientDisconnected(Exception):
    """The client went away before the reply was complete."""


# Request ids: 88 random bits each, unique across processes and restarts, drawn from a pool
# filled by one getrandom() system call per 512 ids. They name stored state (captures, log
# rows, labels), so a key that sees its own must not be able to tell another tenant's: a
# prefix and a counter (before) made the next id the gateway gave anyone the seen one plus one.
_RID_BYTES = 11
_RID_BATCH = 512
_rid_pool: list[str] = []
os.register_at_fork(after_in_child=_rid_pool.clear)  # a forked worker draws its own


def _fresh_id() -> str:
    pool = _rid_pool
    if not pool:
        raw = os.urandom(_RID_BYTES * _RID_BATCH).hex()
        step = 2 * _RID_BYTES
        pool.extend(raw[i : i + step] for i in range(0, len(raw), step))
    return pool.pop()


def request_id(headers: dict[bytes, bytes]) -> str:
    """The client's ``x-request-id`` when it is a plain token (it is echoed and sent upstream),
    otherwise the gateway's own."""
    rid = headers.get(b"x-request-id")
    if rid is not None and is_request_id(rid):
        return rid.decode("ascii")
    return _fresh_id()


async def read_body(
    receive: Receive,
    headers: dict[bytes, bytes],
    limit: int,
    memory: BodyMemory | None = None,
    room: int = 0,
) -> bytes:
    """The whole request body, refusing anything over ``limit`` bytes before reading it.

    With ``memory``, a body over :data:`~turnout.api.bodies.SMALL` bytes is counted there as
    soon as its size is known, and refused (``Overloaded``) if all the bodies held would pass
    ``room``; the caller gives it back with ``memory.release(body)`` when the request ends."""
    declared = headers.get(b"content-length")
    held = 0
    if declared is not None and declared.isdigit():
        size = int(declared)
        if size > limit:
            raise PayloadTooLarge(f"Request body is {size} bytes; the limit is {limit} bytes")
        if size > SMALL and memory is not None:
            memory.take(size, room)
            held = size
    try:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body: bytes = message.get("body", b"")
        if message.get("more_body"):
            parts = [body]
            size = len(body)
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes")
                if size > held and size > SMALL and memory is not None:  # a chunked body
                    memory.take(size - held, room)
                    held = size
                parts.append(chunk)
                if not message.get("more_body"):
                    break
            body = b"".join(parts)
    except BaseException:
        if held and memory is not None:
            memory.held -= held
        raise
    if memory is not None and len(body) > SMALL and held != len(body):
        memory.held += len(body) - held  # one chunked read: counted, too late to refuse
    return body


async def send_bytes(send: Send, status: int, headers: Headers, body: bytes) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send, err: GatewayError, protocol: str, rid: str, extra: Headers | None = None
) -> None:
    headers: Headers = [JSON, (b"x-request-id", rid.encode()), *err.headers()]
    if extra:
        headers.extend(extra)
    await send_bytes(send, err.status, headers, error_body(err, protocol))


class DisconnectWatch:
    """Cancels ``task`` the moment the client disconnects: a relay that only writes would
    otherwise learn it at its next write, after waiting on the upstream. ``gone`` says whether
    the client left (the task's cancellation is then the watch's, not the server's).

    On the gateway's own server the exchange behind ``receive`` calls the watch when its
    connection is lost (``on_lost``); on any other ASGI server a task waits on ``receive`` for
    ``http.disconnect``: a task, an event and their wake-ups per stream, ~2% of a relayed
    stream's instructions (docs/measurements.md)."""

    __slots__ = ("_exchange", "_task", "_watcher", "gone")

    def __init__(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        self.gone = False
        self._task: asyncio.Task[Any] | None = task
        self._watcher: asyncio.Task[None] | None = None
        exchange: Any = getattr(receive, "__self__", None)
        if hasattr(exchange, "on_lost") and exchange.on_lost is None:
            self._exchange = exchange
            exchange.on_lost = self._lost
        else:
            self._exchange = None
            self._watcher = task.get_loop().create_task(self._watch(receive, task))

    def _lost(self) -> None:
        task = self._task
        if task is not None:
            self.gone = True
            task.cancel()

    async def _watch(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.gone = True
                task.cancel()
                return

    def stop(self) -> None:
        # Forgotten as it is cancelled: the cancelled watcher's traceback holds its frame, and
        # through ``self`` the frame would hold the watcher again, a cycle left to the cyclic
        # GC with the request's task and objects in it (thousands under stream load: ~2 MB of
        # peak RSS, docs/measurements.md#memory). The exchange forgets the watch likewise.
        self._task = None
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            exchange.on_lost = None
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()


async def send_stream(
    send: Send,
    receive: Receive,
    call: Call,
    task: asyncio.Task[Any] | None,
    status: int,
    headers: Headers,
    chunks: AsyncIterator[bytes],
    terminator: bytes | None,
    observer: StreamObserver | None = None,
) -> None:
    """Relay a stream chunk by chunk; cancel everything if the client disconnects.

    ``terminator`` is the marker a complete stream of this protocol ends with; a stream that
    ends without it was cut upstream and is reported to the client as an error. ``observer``
    sees every chunk for its usage and may hold bytes back or drop a usage chunk the client
    did not ask for (:mod:`turnout.usage`).
    """
    if task is None:
        task = asyncio.current_task()
        assert task is not None
    watch = DisconnectWatch(receive, task)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    tail = b""
    first = True
    try:
        try:
            async for chunk in chunks:
                if first:
                    first = False
                    call.ttft = time.perf_counter() - call.started
                if observer is not None and not (chunk := observer.feed(chunk)):
                    continue
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                call.relayed += len(chunk)
                if terminator is not None:  # the stream's last 48 bytes at least
                    tail = chunk if len(chunk) >= 48 else (tail + chunk)[-48:]
            if observer is not None and (rest := observer.flush()):
                await send({"type": "http.response.body", "body": rest, "more_body": True})
                tail = (tail + rest)[-48:]
            # find, not ``in``: on Python 3.11 ``in`` first tries its operand as an integer.
            if terminator is not None and tail[-48:].find(terminator) < 0:
                raise StreamIncomplete("the upstream stream ended before it was complete")
            call.relayed_all = True  # a client leaving now has had everything, usage included
        except Exception as exc:
            raise StreamAborted(await _report(send, call, exc)) from None
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not watch.gone:
            raise
        # A client that leaves once the stream's end was written (the OpenAI SDK closes at
        # [DONE], before the last empty chunk) had all of it: the row keeps its status. The
        # end it had may be the terminator relayed while the upstream's own end (its last
        # empty chunk) was still awaited: the SDK closes in that gap too, under load.
        if not call.relayed_all and terminator is not None and tail[-48:].find(terminator) >= 0:
            call.relayed_all = True
        if not call.relayed_all:
            call.status, call.error = 499, "client_disconnected"
        # Swallow our own cancellation: the client is gone, nothing is left to do.
        task.uncancel()
    finally:
        watch.stop()
        close = getattr(chunks, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()


async def _report(send: Send, call: Call, exc: Exception) -> str:
    """Write a failed stream's error frame; its message. A function of its own so that no
    frame on the failure's traceback keeps the error in a local: the error, its traceback
    and that frame (the whole request's objects) would form a cycle, left to the cyclic GC
    (hundreds of objects per failed stream, tests/unit/api/test_io_streams.py)."""
    err = as_gateway_error(exc)
    if err is not exc:
        log.exception("stream failed", request_id=call.request_id, exc_info=exc)
    call.error = f"stream:{type(err).__name__}"
    with contextlib.suppress(Exception):
        body = error_frame(err, call.protocol)
        await send({"type": "http.response.body", "body": body, "more_body": True})
    return err.message
