"""One HTTP/1.1 connection of the mock server: a raw asyncio Protocol over ``httptools``.

Benchmarks compare "client -> gateway -> mock" with "client -> mock", so the mock must never
be the bottleneck. Hence no framework: requests are parsed by httptools' C parser, answered
synchronously when nothing needs to wait, and identical plain non-stream requests are served
from a cache of finished response bytes with a fresh id spliced in (ids stay unique, the
request's model is still echoed because the body is part of the key).

Requests on one connection are answered strictly in order (pipelining): while a response
that takes time (stream, delay, fault) is in flight, later requests wait in a short queue,
and reading pauses when that queue or the socket's write buffer fills up. When the client
goes away mid-response the running task is cancelled and counted, which is how tests see
that a gateway really hung up on its upstream.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final, cast
from urllib.parse import unquote

import httptools

from turnout.mock import clouds
from turnout.mock.batches import MockBatches
from turnout.mock.clouds import CloudAuth, is_cloud_path
from turnout.mock.content import UID_HEX_LEN
from turnout.mock.engine import MockResponse, error_response, respond
from turnout.mock.openai_batches import MockOpenAIBatches
from turnout.mock.settings import MockSettings
from turnout.mock.stats import MockStats
from turnout.mock.timing import MockDisconnect, iter_frames, read_body

_CACHE_MAX: Final = 4096
_CACHE_BODY_MAX: Final = 64 * 1024
_MAX_BODY: Final = 32 * 1024 * 1024  # Anthropic's Messages limit; larger bodies get a 413
_MAX_QUEUE: Final = 64
_AUTH_NAMES: Final = frozenset({b"authorization", b"x-api-key", b"x-goog-api-key"})
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK: Final = b"0\r\n\r\n"


def _reason(status: int) -> str:
    if status == 529:
        return "Overloaded"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


_STATUS_LINES: Final = {s: f"HTTP/1.1 {s} {_reason(s)}\r\n".encode() for s in range(100, 600)}


@dataclass(slots=True)
class ServerState:
    """State of one listening server, shared by its connections."""

    settings: MockSettings
    stats: MockStats = field(default_factory=MockStats)
    cache: dict[
        tuple[bytes, bytes, tuple[tuple[bytes, bytes], ...], bytes], tuple[bytes, bytes]
    ] = field(default_factory=dict)
    ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(int.from_bytes(os.urandom(8), "big"))
    )
    connections: set[Connection] = field(default_factory=set)
    clouds: CloudAuth | None = None  # credentials the cloud routes check (mock/clouds.py)
    batches: MockBatches = field(default_factory=MockBatches)  # Message Batches (stateful)
    # OpenAI's batch files and batches (stateful)
    openai_batches: MockOpenAIBatches = field(default_factory=MockOpenAIBatches)

    def fresh_uid(self) -> bytes:
        return b"%0*x" % (UID_HEX_LEN, next(self.ids))


@dataclass(slots=True)
class _Request:
    method: bytes
    url: bytes
    headers: list[tuple[bytes, bytes]]
    relevant: tuple[tuple[bytes, bytes], ...]
    body: bytes
    keep_alive: bool
    too_large: bool
    http10: bool


def _head(resp: MockResponse, length: int | None, keep_alive: bool, chunked: bool = True) -> bytes:
    """Status line and headers; ``length=None`` means a stream (chunked unless HTTP/1.0)."""
    parts = [_STATUS_LINES.get(resp.status) or f"HTTP/1.1 {resp.status} Unknown\r\n".encode()]
    parts += [f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in resp.headers]
    if length is None:
        if chunked:
            parts.append(b"transfer-encoding: chunked\r\n")
    else:
        parts.append(b"content-length: %d\r\n" % length)
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


class Connection(asyncio.Protocol):
    """One client connection: parse, answer in order, notice when the client goes away."""

    def __init__(self, shared: ServerState) -> None:
        self._shared = shared
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._relevant: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_len = 0
        self._queue: deque[_Request] = deque()
        self._task: asyncio.Task[None] | None = None
        self._task_is_stream = False
        self._write_paused = False
        self._queue_paused = False
        self._writable: asyncio.Future[None] | None = None
        self._closed = False

    # --- transport events ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        self._shared.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._shared.connections.discard(self)
        self._queue.clear()
        task = self._task
        if task is not None and not task.done():
            stats = self._shared.stats
            if self._task_is_stream:
                stats.cancelled_streams += 1
            else:
                stats.cancelled_requests += 1
            task.cancel()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def _update_reading(self) -> None:
        if self._transport is None or self._closed:
            return
        if self._write_paused or self._queue_paused:
            self._transport.pause_reading()
        else:
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(b"protocol upgrades are not supported")
        except httptools.HttpParserError:
            self._reject(b"malformed HTTP request")

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _reject(self, reason: bytes) -> None:
        """Answer a request we cannot parse, then close: the byte stream is out of sync."""
        assert self._transport is not None
        if self._closed or self._transport.is_closing():
            return
        if self._task is None:
            body = b'{"error":{"message":"%s","type":"invalid_request_error"}}' % reason
            head = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            head += b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            self._transport.write(head + body)
            self._transport.close()
        else:
            self._transport.abort()

    # --- httptools callbacks ------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._relevant = []
        self._body = []
        self._body_len = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self._headers.append((name, value))
        if name[:7] == b"x-mock-":
            self._relevant.append((name, value))
        elif name in _AUTH_NAMES:
            self._relevant.append((name, value[:7].lower()))  # the style, not the secret

    def on_headers_complete(self) -> None:
        if (
            (b"expect", b"100-continue") in self._headers
            and self._task is None
            and not self._queue
            and self._transport is not None
        ):
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body_len += len(body)
        if self._body_len <= _MAX_BODY:
            self._body.append(body)

    def on_message_complete(self) -> None:
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        request = _Request(
            self._parser.get_method(),
            self._url,
            self._headers,
            tuple(self._relevant),
            body,
            self._parser.should_keep_alive(),
            self._body_len > _MAX_BODY,
            self._parser.get_http_version() == "1.0",
        )
        if self._task is None and not self._queue:
            self._handle(request)
            return
        self._queue.append(request)
        if len(self._queue) >= _MAX_QUEUE and not self._queue_paused:
            self._queue_paused = True
            self._update_reading()

    # --- answering ----------------------------------------------------------------------

    def _next(self) -> None:
        while self._queue and self._task is None and not self._closed:
            self._handle(self._queue.popleft())
        if self._queue_paused and len(self._queue) < _MAX_QUEUE // 2:
            self._queue_paused = False
            self._update_reading()

    def _handle(self, req: _Request) -> None:
        transport = self._transport
        if transport is None or self._closed or transport.is_closing():
            return
        shared = self._shared
        raw_path, _, raw_query = req.url.partition(b"?")
        path = raw_path.decode("latin-1")
        cloud = is_cloud_path(path)  # raw: Bedrock's signature covers the encoded path
        if "%" in path:
            path = unquote(path)
        if path.startswith("/_mock/"):
            self._admin(req, path)
            return
        shared.stats.count(path)
        key = None
        batches = MockBatches.claims(path) or MockOpenAIBatches.claims(path)
        # Cloud answers depend on credentials the cache key does not hold, and batches change
        # under the same request: never cached.
        if (
            req.keep_alive
            and len(req.body) <= _CACHE_BODY_MAX
            and not req.too_large
            and not cloud
            and not batches
        ):
            key = (req.method, req.url, req.relevant, req.body)
            hit = shared.cache.get(key)
            if hit is not None:
                data, uid = hit
                shared.stats.cache_hits += 1
                transport.write(data.replace(uid, shared.fresh_uid()) if uid else data)
                return
        method = req.method.decode("latin-1")
        if req.too_large:
            resp = error_response(path, 413, "Request exceeds the maximum allowed size.")
        else:
            headers = {n.decode("latin-1"): v.decode("latin-1") for n, v in req.headers}
            query = raw_query.decode("latin-1")
            if batches:  # stateful: never cached (above), answered whole
                held = shared.batches if MockBatches.claims(path) else shared.openai_batches
                resp = held.respond(method, path, query, headers, req.body, shared.settings)
            elif cloud:
                raw = raw_path.decode("latin-1")
                resp = clouds.respond(
                    method, raw, query, headers, req.body, shared.settings, shared.clouds
                )
            else:
                resp = respond(method, path, query, headers, req.body, shared.settings)
        if resp.frames is None and resp.fault is None and resp.ttft_ms <= 0:
            body = resp.body or b""
            data = _head(resp, len(body), req.keep_alive)
            if method != "HEAD":
                data += body
            transport.write(data)
            if key is not None:
                if len(shared.cache) >= _CACHE_MAX:
                    shared.cache.clear()
                shared.cache[key] = (data, resp.uid.encode() if resp.uid else b"")
            if not req.keep_alive:
                transport.close()
            return
        self._task_is_stream = resp.frames is not None
        self._task = self._loop.create_task(self._run(resp, req))

    def _admin(self, req: _Request, path: str) -> None:
        assert self._transport is not None
        stats = self._shared.stats
        if path == "/_mock/stats" and req.method == b"GET":
            status, body = 200, stats.to_json()
        elif path == "/_mock/reset" and req.method == b"POST":
            stats.reset()
            self._shared.cache.clear()
            status, body = 200, b'{"ok":true}'
        else:
            status, body = 404, b'{"error":{"message":"unknown mock admin path"}}'
        resp = MockResponse(status, [("content-type", "application/json")])
        self._transport.write(_head(resp, len(body), req.keep_alive) + body)
        if not req.keep_alive:
            self._transport.close()

    async def _run(self, resp: MockResponse, req: _Request) -> None:
        stats = self._shared.stats
        stream = resp.frames is not None
        if stream:
            stats.active_streams += 1
        try:
            if stream:
                await self._send_stream(resp, req)
            else:
                await self._send_later(resp, req)
        except MockDisconnect:
            if self._transport is not None:
                self._transport.abort()
            return
        finally:
            if stream:
                stats.active_streams -= 1
            self._task = None
        if stream:
            stats.completed_streams += 1
        if (not req.keep_alive or (stream and req.http10)) and self._transport is not None:
            self._transport.close()
        self._next()

    async def _send_later(self, resp: MockResponse, req: _Request) -> None:
        assert self._transport is not None
        full = resp.body or b""
        try:
            body = await read_body(resp)
        except MockDisconnect:
            if resp.fault != "truncate":
                raise
            # Promise the whole body, deliver half, close cleanly: a short read for the client.
            self._transport.write(_head(resp, len(full), False) + full[: len(full) // 2])
            self._transport.close()
            return
        data = _head(resp, len(body), req.keep_alive)
        self._transport.write(data if req.method == b"HEAD" else data + body)

    async def _send_stream(self, resp: MockResponse, req: _Request) -> None:
        transport = self._transport
        assert transport is not None
        # HTTP/1.0 has no chunked encoding: the body is delimited by closing the connection.
        chunked = not req.http10
        head: bytes | None = _head(resp, None, req.keep_alive and chunked, chunked)
        async for frame in iter_frames(resp):
            if self._closed:
                return
            chunk = b"%x\r\n%b\r\n" % (len(frame), frame) if chunked else frame
            if head is not None:
                chunk, head = head + chunk, None
            transport.write(chunk)
            if self._write_paused:
                self._writable = self._loop.create_future()
                await self._writable
        if not self._closed:
            end = _LAST_CHUNK if chunked else b""
            transport.write(end if head is None else head + end)
