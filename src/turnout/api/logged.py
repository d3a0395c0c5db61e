"""One request to a gateway route that is not a model call (a batch's, a file's), served
with the request log's row, the request id and the last error boundary every model route has.

The batch APIs' routes each wrote this frame out in full; a change to how an answer is
logged or a failure answered belongs in one place."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from turnout.api.io import (
    ClientDisconnected,
    StreamAborted,
    request_id,
    send_bytes,
    send_error,
    send_stream,
)
from turnout.auth.guard import PRINCIPAL
from turnout.auth.principal import Principal
from turnout.errors import GatewayError, as_gateway_error
from turnout.observability.logging import get_logger
from turnout.state import GatewayState
from turnout.types import Call, Receive, Reply, Scope, Send

log = get_logger("turnout")

Handler = Callable[[Call, Principal | None], Awaitable[Reply]]


async def serve_logged(
    state: GatewayState,
    scope: Scope,
    receive: Receive,
    send: Send,
    protocol: str,
    operation: str,
    handler: Handler,
    after: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Answer with ``handler``'s reply (whole, or relayed chunk by chunk), or with the error
    it raised in ``protocol``'s shape; log one row however the request ends. ``after`` runs
    before the row is written, whatever happened (an upstream stream to close)."""
    started = time.perf_counter()
    headers = dict(scope["headers"])
    rid = request_id(headers)
    call = Call(protocol, operation, "", b"", {}, False, headers, rid, started)
    call.path = scope["path"]
    call.query = scope.get("query_string", b"")
    principal: Principal | None = scope.get(PRINCIPAL)
    if principal is not None:
        call.key_id, call.team = principal.id, principal.team
    state.request_log.inflight += 1
    try:
        reply = await handler(call, principal)
        call.status = reply.status
        out = [*reply.headers, (b"x-request-id", rid.encode())]
        if reply.chunks is None:
            await send_bytes(send, reply.status, out, reply.body)
        else:
            await send_stream(send, receive, call, None, reply.status, out, reply.chunks, None)
    except ClientDisconnected:
        call.status, call.error = 499, "client_disconnected"
    except StreamAborted:
        call.error = call.error or "stream_aborted"
    except asyncio.CancelledError:
        if call.status == 0:
            call.status, call.error = 499, "client_disconnected"
        raise
    except Exception as exc:  # the last boundary, as for every model route
        if not isinstance(exc, GatewayError):
            log.exception("request failed", request_id=rid)
        err = as_gateway_error(exc)
        call.status, call.error = err.status, type(err).__name__
        await send_error(send, err, protocol, rid)
    finally:
        try:
            if after is not None:
                await after()
        finally:
            state.request_log.record(call, time.perf_counter() - started)


__all__ = ["Handler", "serve_logged"]
