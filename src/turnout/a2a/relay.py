"""Relaying one JSON-RPC call to an agent and its answer back, whole or as SSE.

The caller's request bytes go to the agent unchanged; the answer comes back unchanged too,
except an extended card (``GetExtendedAgentCard``), which is rewritten like the public card.
A stream is relayed event by event as the agent writes them, byte for byte; its events are
only read (task id, state, end) on the way, and an event's bytes are held until it ends. A
stream that stops before its task ended or was interrupted (the agent crashed, the connection
broke, an event was not JSON) ends with a JSON-RPC error event and an aborted connection,
never a clean end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import orjson

from turnout.a2a.echoes import mask
from turnout.a2a.events import NO_DATA, Seen, SSEScanner, read_response
from turnout.a2a.jsonrpc import error_event
from turnout.api.io import DisconnectWatch, StreamAborted
from turnout.errors import UpstreamInvalid, UpstreamUnavailable, as_gateway_error
from turnout.observability.logging import get_logger
from turnout.types import Call, Headers, Receive, Send
from turnout.upstream.base import UpstreamResponse

log = get_logger("turnout.a2a")

# What a caller sees of the agent's response headers: the protocol's own. The content type
# is the gateway's (it read the answer as JSON-RPC, or as SSE), framing is the server's, and
# the rest is not the agent's to send a caller: a cookie or ``clear-site-data`` for the
# gateway's origin, CORS opening answers to other sites, a public ``cache-control`` that has
# a shared cache in front of the gateway hand one key's answer to the next caller
# (turnout.headers.NEVER_RELAY, for model calls).
RELAYED = frozenset((b"a2a-version", b"a2a-extensions"))
JSON_TYPE = (b"content-type", b"application/json")
SSE_TYPE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def relayed_headers(resp: UpstreamResponse, stream: bool = False) -> Headers:
    own = [(k, v) for k, v in resp.headers if k in RELAYED]
    return [*SSE_TYPE, *own] if stream else [JSON_TYPE, *own]


def check_status(resp: UpstreamResponse, agent: str) -> None:
    """An answer whose status a caller must not get: a redirect (its ``location`` is in the
    agent's space, and the gateway follows none), a status that carries no body, or none of
    HTTP's. A 502 instead, as for model calls (turnout.providers.relay)."""
    status = resp.status
    if (200 <= status < 300 and status not in (204, 205)) or 400 <= status < 600:
        return
    resp.close()
    kind = "a redirect" if 300 <= status < 400 else "a status the gateway does not relay"
    raise UpstreamInvalid(f"agent {agent} answered HTTP {status}, {kind}")


def content_type(resp: UpstreamResponse) -> bytes:
    for k, v in resp.headers:
        if k == b"content-type":
            return v.lower()
    return b""


async def read_bounded(resp: UpstreamResponse, limit: int, agent: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in resp.iter_chunks():
            size += len(chunk)
            if size > limit:
                raise UpstreamInvalid(f"agent {agent}: its answer exceeds {limit} bytes")
            parts.append(chunk)
    except BaseException:
        resp.close()
        raise
    return b"".join(parts)


def check_answer(status: int, body: bytes, agent: str) -> Any:
    """The agent's answer parsed, or the gateway error that replaces it: a JSON-RPC response
    object, else an agent that is down (a non-200 page) or speaks nonsense (a 200 that is not
    JSON-RPC)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    ok = (
        isinstance(data, dict)
        and data.get("jsonrpc") == "2.0"
        and (("result" in data) != isinstance(data.get("error"), dict))
    )
    if ok:
        return data
    if status != 200:
        raise UpstreamUnavailable(f"agent {agent} answered HTTP {status}")
    raise UpstreamInvalid(f"agent {agent} answered with something that is not JSON-RPC")


async def relay_stream(
    send: Send,
    receive: Receive,
    call: Call,
    resp: UpstreamResponse,
    headers: Headers,
    rid: Any,
    max_event: int,
    on_event: Callable[[Seen, int], None],
    secrets: tuple[bytes, ...] = (),
) -> int:
    """Relay an SSE answer; returns the bytes sent. Raises StreamAborted after an error event.

    The client leaving cancels the relay at once (the agent's connection is dropped, which is
    how an A2A server learns a subscriber left)."""
    task = asyncio.current_task()
    assert task is not None
    watch = DisconnectWatch(receive, task)
    scanner = SSEScanner(max_event)
    sent = 0
    final = done = False
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    try:
        try:
            async for chunk in resp.iter_chunks():
                # Whole events only, as the agent wrote them: a stream cut mid-event leaves
                # the client on an event boundary, where the gateway's error event can follow.
                ready: list[bytes] = []
                for raw, data in scanner.feed(chunk):
                    if data is not NO_DATA:
                        if data is None:
                            await _send(send, call, ready)
                            raise UpstreamInvalid("the agent sent an event that is not JSON")
                        seen, _error = read_response(data)
                        final = seen.final
                        on_event(seen, len(raw))
                    ready.append(mask(raw, secrets))  # a quoted credential (echoes.py)
                sent += await _send(send, call, ready)
            done = True
            if not final:
                raise UpstreamUnavailable("the agent's stream ended before its task did")
        except ValueError as exc:  # an event over the size bound
            err = UpstreamInvalid(str(exc))
            await _abort(send, call, err, rid)
        except Exception as exc:
            await _abort(send, call, exc, rid)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not watch.gone:
            raise
        call.status, call.error = 499, "client_disconnected"
        task.uncancel()
    finally:
        watch.stop()
        if not done:  # the agent's connection cannot be reused mid-stream
            resp.close()
    return sent


async def _send(send: Send, call: Call, events: list[bytes]) -> int:
    if not events:
        return 0
    body = b"".join(events)
    if call.ttft is None:
        call.ttft = time.perf_counter() - call.started
    await send({"type": "http.response.body", "body": body, "more_body": True})
    call.bytes_out = (call.bytes_out or 0) + len(body)  # the request log's, even if cut later
    return len(body)


async def _abort(send: Send, call: Call, exc: Exception, rid: Any) -> None:
    err = as_gateway_error(exc)
    if err is not exc:
        log.exception("a2a stream failed", request_id=call.request_id)
    call.error = f"stream:{type(err).__name__}"
    with contextlib.suppress(Exception):
        await send({"type": "http.response.body", "body": error_event(err, rid), "more_body": True})
    raise StreamAborted(err.message)
