"""uvicorn's httptools protocol with the limits a gateway facing the open internet needs.

uvicorn with httptools has no header limits (a 50 MB header, or a million header lines that
blocked the event loop for seconds, were accepted) and no read timeouts (a client sending its
head a byte a second kept its connection forever). This subclass adds, per connection:

- a 431 past ``max_header_bytes`` or ``max_headers``, checked after each read of a head;
- timeouts: the head within ``header_timeout`` and no body silence over ``body_timeout``
  (408), ``idle_timeout`` between requests (closed), ``write_timeout`` for a client that stops
  reading (disconnected, which cancels its request and the upstream call);
- a 400 in the request path's protocol for a protocol upgrade (llhttp stops parsing there), a
  request llhttp cannot read, an HTTP version other than 1.0 and 1.1, or not exactly one valid
  ``Host`` (:mod:`turnout.server.target`); a 501 (or 400) for a transfer coding other than a
  lone ``chunked`` (:mod:`turnout.server.framing`); refusals wait for the answers owed before
  them, and trailer fields are dropped (:mod:`turnout.server.answers`);
- cancellation: a client gone before the response started has its request's task (under
  :data:`~turnout.server.limits.TASK`) cancelled at once, and the upstream call with it.

One timer per connection watches the timeouts. The connection (flow control, pipelining,
shutdown) is uvicorn's; each request is the gateway's own :class:`~turnout.server.cycle.Exchange`.
"""

from __future__ import annotations

import asyncio
import contextvars
import urllib.parse
from typing import Any

import httptools
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from turnout.errors import GatewayError
from turnout.server import framing
from turnout.server.answers import owed, refusal
from turnout.server.cycle import Exchange
from turnout.server.limits import GONE, TASK, ServerLimits, overloaded
from turnout.server.target import authority

# Connection phases.
IDLE, HEAD, BODY, APP, CLOSED = range(5)
_DEFAULT = ServerLimits()
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_TASK_NAME = "turnout-request"  # every request's task (asyncio names each one otherwise)
_VERSIONS = frozenset(("1.1", "1.0"))
_PRI = "Pause on PRI/Upgrade"  # llhttp's reason for "PRI * HTTP/2.0", HTTP/2's preface


class _Refused(Exception):
    """Raised from a parser callback to stop parsing once the answer has been written."""


class GatewayProtocol(HttpToolsProtocol):
    cycle: Exchange | None  # type: ignore[assignment]  # not uvicorn's RequestResponseCycle

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits: ServerLimits = getattr(self.app, "server_limits", None) or _DEFAULT
        self._max_head = limits.max_header_bytes
        self._max_headers = limits.max_headers
        self._timeouts = (
            limits.idle_timeout,
            limits.header_timeout,
            limits.body_timeout,
            0.0,  # APP: the application has its own deadlines
            0.0,
        )
        self._write_timeout = limits.write_timeout
        enabled = [t for t in (*self._timeouts, self._write_timeout) if t > 0]
        self._tick = min(enabled) if enabled else 0.0
        self._write_paused_at = 0.0  # loop time the client stopped reading (0: it reads)
        self._phase = IDLE
        self._since = 0.0  # loop time the phase started (BODY: the last body bytes)
        self._head_bytes = 0  # bytes of the current head seen in earlier reads
        self._codings = b""  # the request's Transfer-Encoding lines, joined (framing.py)
        self._chunk = 0  # size of the read being parsed
        self._refused = False
        self._last = b""  # a refusal written once the requests before it are answered
        self._host = b""  # the last Host found valid on this connection
        self._hosts = 0
        self._host_line = b""
        self._timer: asyncio.TimerHandle | None = None

    # -- connection ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._since = now = self.loop.time()
        if self._tick:
            self._timer = self.loop.call_at(now + self._tick, self._check)

    def connection_lost(self, exc: Exception | None) -> None:  # uvicorn's, for Exchange
        cycle = self.cycle
        self.connections.discard(self)
        if cycle is not None:
            cycle.lost()
        if self.flow is not None:
            self.flow.resume_writing()
        if exc is None:
            self.transport.close()
        self.parser = None  # type: ignore[assignment]  # it holds this protocol's callbacks
        self._phase = CLOSED
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if cycle is not None and not cycle.response_started:
            scope = cycle.scope
            task: asyncio.Task[None] | None = scope.get(TASK)
            if task is not None and not task.done():
                scope.setdefault(GONE, 499)
                task.cancel()

    def data_received(self, data: bytes) -> None:
        # uvicorn's (no keep-alive timer to cancel), with the head-size check after each read.
        self._chunk = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # CONNECT, or an upgrade on_headers_complete did not see: never an upgrade here.
            self._refuse(400, "Protocol upgrades are not supported: send plain HTTP/1.1")
            return
        except httptools.HttpParserError as exc:
            if not self._refused:
                self._malformed(exc)
            return
        if self._phase == HEAD and not self._refused:
            # The head is still incomplete, so all of this read belonged to it.
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head or len(self.headers) > self._max_headers:
                self._refuse_head()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._write_paused_at = self.loop.time()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._write_paused_at = 0.0

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # The task is kept in the scope: the handler finds it there instead of asking asyncio
        # (which costs a getpid system call per lookup on Python 3.11).
        # A name of its own: without one, asyncio formats "Task-<n>" for every task
        # (PyUnicode_FromFormat, ~1,500 instructions a request; bench/instructions.py).
        if self.config.reset_contextvars:
            task = self.loop.create_task(
                cycle.run(app), name=_TASK_NAME, context=contextvars.Context()
            )
        else:
            task = self.loop.create_task(cycle.run(app), name=_TASK_NAME)
        cycle.scope[TASK] = task
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    # -- parser callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        # The scope is built once the head is complete (turnout.server.cycle).
        self.url = b""
        self.expect_100_continue = False
        self._hosts = 0  # Host lines of this request, and the last one's value
        self._host_line = b""
        self.headers = []
        self._phase = HEAD
        self._since = self.loop.time()
        self._head_bytes = 0
        self._codings = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        # uvicorn's, counting Host lines as they come (turnout.server.target reads no more).
        if self._phase != HEAD:  # a trailer field, after a chunked body (turnout.server.answers)
            self._trailer(len(name) + len(value) + 4)
            return
        name = name.lower()
        if name == b"host":
            self._hosts += 1
            self._host_line = value
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        elif name == framing.HEADER:
            self._codings = self._codings + b"," + value if self._codings else value
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        headers = self.headers
        if len(headers) > self._max_headers or (
            self._head_bytes + self._chunk > self._max_head and self._head_size() > self._max_head
        ):
            self._refuse_head()
            raise _Refused
        parser = self.parser
        if parser.should_upgrade():
            self._refuse(400, "Protocol upgrades are not supported: send plain HTTP/1.1")
            raise _Refused
        if self._codings and (refused := framing.refusal(self._codings)) is not None:
            self._refuse(refused.status, refused.message, err=refused)  # 400 or 501 (RFC 9112)
            raise _Refused
        version = parser.get_http_version()
        if version not in _VERSIONS:  # llhttp also reads "HTTP/2.0" and a bare "GET /x"
            self._refuse(400, f"HTTP/{version} is not supported: send HTTP/1.1")
            raise _Refused
        try:
            url = httptools.parse_url(self.url)
        except httptools.HttpParserInvalidURLError:
            self._refuse(400, "Malformed HTTP request: the request target is not a valid URL")
            raise _Refused from None
        # One Host, the one this connection's last request had, no absolute form: the usual
        # case, decided without a call.
        known = self._host
        if self._hosts != 1 or not known or self._host_line != known or url.schema is not None:
            why, self._host = authority(url, headers, version, known)
            if why is not None:
                self._refuse(400, why)
                raise _Refused
        raw_path = url.path or b"/"  # absolute form without a path: "http://host"
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        root = self.root_path
        scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": parser.get_method().decode("ascii"),
            "root_path": root,
            "path": root + path if root else path,
            "raw_path": root.encode("ascii") + raw_path if root else raw_path,
            "query_string": url.query or b"",
            "headers": headers,
            "state": self.app_state.copy(),
        }
        self.scope = scope  # type: ignore[assignment]
        app = self.app
        limit = self.limit_concurrency
        # This connection is among ``connections`` (uvicorn's ``>=`` refused the limit-th
        # one: ``max_concurrency: 1`` served nothing); this request has no task yet.
        if limit is not None and (len(self.connections) > limit or len(self.tasks) >= limit):
            app = overloaded
            self.logger.warning("Exceeded concurrency limit.")
        previous = self.cycle
        cycle = Exchange(
            scope,
            self.transport,
            self.flow,
            self.server_state.default_headers,
            version != "1.0" and parser.should_keep_alive(),
            self.expect_100_continue,
            self.on_response_complete,
            self.logger,
        )
        self.cycle = cycle
        if previous is None or previous.response_complete:
            self._start_asgi_task(cycle, app)
        else:  # a pipelined request waits for the one before
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, app))  # type: ignore[arg-type]
        self._phase = BODY
        self._since = self.loop.time()
        self._head_bytes = 0  # from here on: the trailer fields' bytes

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return
        cycle.feed(body)
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        self._since = self.loop.time()

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.end()
        self._phase = IDLE if cycle is None or cycle.response_complete else APP
        self._since = self.loop.time()

    def on_response_complete(self) -> None:
        # uvicorn's, without its keep-alive timer: this connection's (_check) closes idle ones.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        if self.pipeline:  # the next pipelined request
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self._last:  # every answer before a refused request's is out (server.answers)
            self.transport.write(self._last)
            self.transport.close()
            return
        if not self._last:
            self.flow.resume_reading()
        if self._phase == APP and (self.cycle is None or self.cycle.response_complete):
            self._phase = IDLE
            self._since = self.loop.time()

    # -- limits -------------------------------------------------------------------------------
    def _head_size(self) -> int:
        return len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)

    def _malformed(self, exc: httptools.HttpParserError) -> None:
        """A request llhttp cannot read (framing that disagrees with itself, obs-fold, a bad
        chunk, bytes a head may not hold) gets a 400 in its path's protocol. uvicorn answered
        plain text and logged a warning per request: a client could fill the log at will."""
        cause = exc.__context__
        if isinstance(exc, httptools.HttpParserCallbackError) and cause is not None:
            # One of this protocol's callbacks raised: a bug, not the client's fault.
            self.logger.error("HTTP parser callback failed", exc_info=cause)
            self._refuse(400, "Malformed HTTP request")
            return
        cycle = self.cycle
        if self._phase == BODY and cycle is not None:  # the body's framing broke mid-way
            if cycle.response_started:  # a second answer would corrupt the first
                self._refused = True
                self.transport.close()
                return
            cycle.scope[GONE] = 400  # logged as the 400 it gets, not as a departure
            self._refuse(400, f"Malformed HTTP request: {exc}", broken=True)
            return
        reason = str(exc)
        if reason == _PRI:  # the HTTP/2 connection preface
            reason = "HTTP/2 with prior knowledge is not supported: send HTTP/1.1"
        else:  # llhttp's reasons are fixed texts; they never hold the client's bytes
            reason = f"Malformed HTTP request: {reason}"
        self.logger.debug(reason)
        self._refuse(400, reason)

    def _trailer(self, size: int) -> None:
        """A trailer field: dropped, its bytes counted against ``max_header_bytes``."""
        self._head_bytes += size
        if self._head_bytes > self._max_head and not self._refused:
            if self.cycle is not None and self.cycle.response_started:
                self._refused = True  # a second answer would corrupt the first
                self.transport.close()
            else:
                self._refuse(431, "Request trailer fields too large", broken=True)
            raise _Refused

    def _refuse_head(self) -> None:
        self._refuse(
            431,
            f"Request headers too large: at most {self._max_head} bytes "
            f"and {self._max_headers} header lines",
        )

    def _check(self) -> None:
        """The connection's timer: act on an expired phase, else sleep until the next one."""
        self._timer = None
        phase = self._phase
        if phase == CLOSED or self.transport.is_closing():
            return
        now = self.loop.time()
        paused = self._write_paused_at
        if paused and self._write_timeout and now - paused >= self._write_timeout:
            # The client has not read anything for that long while its response waits:
            # drop it, which cancels the request (and its upstream call) like a disconnect.
            self.transport.abort()
            return
        limit = self._timeouts[phase]
        if limit and now - self._since >= limit:
            busy = self.cycle is not None and not self.cycle.response_complete
            if phase == IDLE and not busy and not self.pipeline:
                self.transport.close()
                return
            if phase == HEAD and not busy:
                self._refuse(408, f"The request head took longer than {limit:g} s to arrive")
                return
            if phase == BODY and self.cycle is not None:
                if self.cycle.response_started:
                    self.transport.close()
                else:
                    self.cycle.scope[GONE] = 408
                    message = f"The request body stalled for more than {limit:g} s"
                    self._refuse(408, message, broken=True)
                return
        wake = now + self._tick
        if limit:
            wake = min(wake, max(self._since + limit, now + 0.001))
        self._timer = self.loop.call_at(wake, self._check)

    def _refuse(
        self, status: int, message: str, broken: bool = False, err: GatewayError | None = None
    ) -> None:
        """Answer ``status`` (or ``err``) in the request path's protocol and close the
        connection, once every request before this one is answered (``broken``: the refused
        request is ``self.cycle``, whose body broke; turnout.server.answers)."""
        self._refused = True
        transport = self.transport
        if transport.is_closing():
            self._phase = CLOSED
            return
        answer = refusal(status, message, self.url, self.server_state.default_headers, err)
        if owed(self.cycle, self.pipeline, broken):
            self._last = answer
            self._phase = APP  # the timer still watches the answers before it (write timeout)
            self.flow.pause_reading()
            return
        self._phase = CLOSED
        transport.write(answer)
        transport.close()
