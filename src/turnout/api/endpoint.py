"""The lifecycle every inbound call shares, whatever its protocol: read the body once, parse
only what routing needs, run the pipeline, write the reply, record one log line.

The app builds one :class:`Inbound` per route of each registered protocol
(:mod:`turnout.protocols.registry`): the protocol's descriptor, the operation, and how to find
the model and stream flag. Everything protocol-specific on the way (usage reading, the stream
terminator, error shapes) is read from the descriptor it carries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from turnout.api.io import (
    ClientDisconnected,
    StreamAborted,
    read_body,
    request_id,
    send_bytes,
    send_error,
    send_stream,
)
from turnout.auth.step import one_key
from turnout.errors import BadRequest, GatewayError, UnknownKey, as_gateway_error
from turnout.names import check_model_name
from turnout.observability.logging import get_logger
from turnout.protocols.descriptor import Locate, StreamForm, WireProtocol
from turnout.routing.stream import aclose
from turnout.server.limits import GONE, TASK
from turnout.state import GatewayState
from turnout.types import Call, Receive, Reply, Scope, Send, Usage
from turnout.usage.base import StreamObserver

SSE_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))
log = get_logger("turnout")
_GONE_ERRORS = {408: "body_timeout", 400: "malformed_body"}


@dataclass(frozen=True, slots=True)
class Inbound:
    """How one inbound operation reads a request."""

    wire: WireProtocol
    operation: str
    locate: Locate  # (parsed body, scope) -> (public model, stream?)
    usage: Callable[[bytes], Usage | None] | None = None  # a whole answer's (None: the wire's)
    # (raw body, headers) -> (fields, forwarded body) for a form; None: JSON (parse_json)
    parse: Callable[[bytes, dict[bytes, bytes]], tuple[dict[str, Any], bytes]] | None = None
    stream: StreamForm | None = None  # None: the wire's usual stream
    # Resolved once here from ``stream`` or the wire, so serving reads one attribute either way.
    observe: Callable[[Call, bool], StreamObserver] = field(init=False)
    terminator: bytes | None = field(init=False)

    def __post_init__(self) -> None:
        form = self.stream
        observe = form.observe if form is not None else self.wire.usage_observer
        object.__setattr__(self, "observe", observe)
        ending = form.terminator if form is not None else self.wire.stream_terminator
        object.__setattr__(self, "terminator", ending)


def _key_first(state: GatewayState, call: Call) -> None:
    """The key is checked before the body is read; what it may use needs the body's model,
    and the pipeline's auth step checks that (reusing this look-up).

    Before (2026-12-08), a request with no key or a wrong one had its whole body read and
    held first: fifty connections, each sending 10 MB and stalling, held 583 MB of the
    gateway's memory without a key (docs/security.md). A client that waits for ``100
    Continue`` is also told before it sends megabytes for a 401."""
    auth = state.auth
    if auth is not None and auth.active:
        call.identified = auth.step.identify(call.headers, call.query)


def _one_key(state: GatewayState, raw: list[tuple[bytes, bytes]], call: Call) -> None:
    """Some header came twice (the dict is shorter than the lines): with authentication on,
    a credential header must not be one of them (turnout.auth.step.one_key)."""
    auth = state.auth
    if auth is not None and auth.active:
        one_key(raw, call.headers)


def parse_json(body: bytes) -> dict[str, Any]:
    """The request as the gateway reads it. Strict (orjson): no BOM, NaN, lone surrogates or
    trailing bytes; a name given twice keeps its last value, so the body must then be sent on
    as :func:`canonical` re-encodes it, never as the client wrote it."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    return data


def canonical(data: dict[str, Any]) -> bytes:
    """The one encoding of a parsed request that every later step reads and the upstream gets.

    The client's bytes and the parsed request can disagree: orjson keeps the *last* value of a
    name given twice, an upstream may keep the first (or read the client's ``"mod\\u0065l"``
    where the gateway's byte searches look for ``"model"``). Before (2026-12-07) a key allowed
    only ``cheap`` sent ``{"model": "gpt-4o", "model": "cheap", ...}``: access, limits, prices,
    guardrails and the account-object check read ``cheap`` and the last ``messages``, and the
    body went upstream as written. Re-encoding what was parsed makes the two one: a duplicate
    is gone, escapes are spelt out, and the bytes mean exactly what the gateway checked. Costs
    about a third of the parse it follows (0.15 µs for a short chat request, 10 µs for 50 KB);
    it also keeps whitespace padding out of every size-based estimate."""
    return orjson.dumps(data)


async def serve(
    state: GatewayState, inbound: Inbound, scope: Scope, receive: Receive, send: Send
) -> None:
    started = time.perf_counter()
    headers = dict(scope["headers"])
    rid = request_id(headers)
    wire = inbound.wire
    # Positional: a Call by keywords costs ~1 µs more (its constructor matches each keyword
    # against forty parameters). protocol, operation, model, body, data, stream, headers,
    # request_id, started, path, query:
    call = Call(
        wire.name,
        inbound.operation,
        "",
        b"",
        {},
        False,
        headers,
        rid,
        started,
        scope["path"],
        scope.get("query_string", b""),
    )
    # The protocol cancels this task if the client leaves before the response starts
    # (turnout.server.protocol): the upstream call stops with it.
    task = scope.get(TASK) or asyncio.current_task()  # the protocol registers it
    scope[TASK] = task
    reply: Reply | None = None
    raw = b""
    state.request_log.inflight += 1
    try:
        if len(headers) != len(scope["headers"]):
            _one_key(state, scope["headers"], call)
        try:
            _key_first(state, call)
        except UnknownKey:  # made elsewhere since this process last read the keys?
            assert state.auth is not None
            call.identified = await state.auth.recheck(call.headers, call.query)
        server = state.runtime.config.server
        raw = await read_body(
            receive, headers, server.max_body_bytes, state.bodies, server.max_held_body_bytes
        )
        if inbound.parse is None:
            call.data = parse_json(raw)
            call.body = canonical(call.data)
        else:  # a form: its text fields read, its bytes forwarded as they came
            call.data, call.body = inbound.parse(raw, headers)
        if state.observability is not None and state.observability.capture is not None:
            call.client_body = raw  # capture files keep the request as the client sent it
        model, call.stream = inbound.locate(call.data, scope)
        # Checked before it is kept: a hostile name never reaches a log row, label or header.
        call.model = check_model_name(model)
        obs = state.observability
        wanted = obs is not None and obs.usage_wanted
        observer = None
        if call.stream and wanted:  # usage is read from the relayed bytes (turnout.usage)
            assert obs is not None
            observer = call.observer = inbound.observe(call, obs.ask_stream_usage)
        handler = state.handlers.get(wire.name) or state.handler
        assert handler is not None
        reply = await handler(call)
        call.status = reply.status
        out = reply.headers
        out.append((b"x-request-id", rid.encode()))
        if call.deployment is not None:
            out.append((b"x-turnout-deployment", call.deployment.encode()))
            out.append((b"x-turnout-attempts", str(call.attempts).encode()))
            if call.route_score is not None:  # a learned router's decision
                out.append((b"x-turnout-route-score", call.route_score))
        if reply.chunks is None:
            call.ttft = time.perf_counter() - started
            if wanted and call.usage is None and reply.status < 300:
                call.usage = (inbound.usage or wire.usage_from_body)(reply.body)
            await send_bytes(send, reply.status, out, reply.body)
        else:
            if not any(k == b"content-type" for k, _ in out):
                out.append((b"content-type", b"text/event-stream"))
            out.extend(SSE_HEADERS)
            await send_stream(
                send,
                receive,
                call,
                task,
                reply.status,
                out,
                reply.chunks,
                inbound.terminator,
                observer,
            )
    except GatewayError as exc:
        call.status, call.error = exc.status, type(exc).__name__
        await send_error(send, exc, wire.name, rid)
    except ClientDisconnected:
        _gone(call, scope.get(GONE, 499))
    except asyncio.CancelledError:
        gone = scope.get(GONE)
        if gone is None or task is None:
            raise
        task.uncancel()  # our own cancellation: the client is gone, nothing is left to do
        _gone(call, gone)
        if reply is not None and reply.chunks is not None:  # never handed to send_stream
            await aclose(reply.chunks)
    except StreamAborted:
        raise
    except Exception as exc:  # the last boundary: nothing reaches the server unrendered
        if _too_deep(exc):
            err: GatewayError = BadRequest(
                "The request body is nested too deeply (at most 255 levels)"
            )
        else:
            log.exception("request failed", request_id=rid)
            err = as_gateway_error(exc)
        call.status, call.error = err.status, type(err).__name__
        await send_error(send, err, wire.name, rid)
    finally:
        state.bodies.release(raw)
        state.request_log.record(call, time.perf_counter() - started)


def _too_deep(exc: Exception) -> bool:
    """orjson reads 1024 levels of nesting but writes only 255: a body between the two parses,
    then cannot be re-encoded for the upstream (here, or deeper where a translation nests it
    further). The client's fault, not ours.

    orjson's encode error *is* ``TypeError``, not a subclass: before (2026-12-07) the
    boundary caught it by that name, so every ``TypeError`` of the request path, a bug or an
    upstream's odd answer mishandled, was a 400 blaming the client's nesting, and nothing was
    logged. Only the encoder's own message is the client's fault."""
    return type(exc) is TypeError and exc.args == ("Recursion limit reached",)


def _gone(call: Call, status: int) -> None:
    """A request whose client left (499), stalled sending its body (408) or sent a body the
    server could not read (400: a bad chunk)."""
    call.status = status
    call.error = _GONE_ERRORS.get(status, "client_disconnected")
