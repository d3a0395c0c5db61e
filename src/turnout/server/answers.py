"""The answers the HTTP protocol writes itself (a request it refuses), and when it may write
them: after every answer owed to the requests that came before on the same connection.

HTTP/1.1 answers a connection's requests in the order they came (RFC 9112 §9.3.2). Before
(2026-12-07) a request refused while an earlier pipelined one was still running (a bad
``Host``, a head llhttp could not read, an upgrade, a head too large) had its 400 or 431
written at once and the connection closed: the earlier request was cancelled (after its
upstream call had started, and been paid for) and its client read the refusal as the answer
to it. A proxy that pipelines several clients' requests on one connection would hand one
client's refusal to another. Now the refusal waits: reading stops, the requests before it are
answered, then it is written and the connection closed.

Trailer fields (after a chunked body) are not request headers either. Before (2026-12-07)
llhttp's callback for them appended each to the request's header list, which the application
reads once the body has arrived: a trailer ``Authorization`` replaced the key a proxy in front
had checked, a trailer ``Host`` the one the protocol had validated, any ``x-*`` trailer was
forwarded upstream, and no limit counted them (they are not body bytes). RFC 9110 §6.5.1: a
recipient must not merge them. Now they are dropped (one comparison per header line) and
their bytes count against ``max_header_bytes``: a 431 beyond it.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from turnout.errors import BadRequest, GatewayError, HeadersTooLarge, RequestTimeout, error_body
from turnout.protocols.registry import dialect

if TYPE_CHECKING:
    from turnout.server.cycle import Exchange


def refusal(
    status: int,
    message: str,
    url: bytes,
    default: list[tuple[bytes, bytes]],
    err: GatewayError | None = None,
) -> bytes:
    """A whole response refusing a request: ``status`` (400, 408 or 431), or ``err`` (a 501 of
    turnout.server.framing), in the protocol of the request path ``url`` begins with,
    ``connection: close``."""
    if err is None:
        if status == 431:
            err = HeadersTooLarge(message)
        elif status == 408:
            err = RequestTimeout(message)
        else:
            err = BadRequest(message)
    body = error_body(err, dialect(url[:64].decode("latin-1")).name)
    head = [STATUS_LINE[err.status]]
    for name, value in (
        *default,
        (b"content-type", b"application/json"),
        *err.headers(),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ):
        head.extend((name, b": ", value, b"\r\n"))
    head.append(b"\r\n")
    return b"".join(head) + body


def owed(cycle: Exchange | None, pipeline: deque[tuple[Any, Any]], broken: bool) -> bool:
    """Whether an earlier request of the connection still waits for its answer. ``broken``:
    ``cycle`` is the request being refused (its body broke or stalled), not an earlier one;
    one still queued behind a running request is dropped from ``pipeline`` (it never runs)."""
    if not broken:
        return bool(pipeline) or (cycle is not None and not cycle.response_complete)
    queued = [entry for entry in pipeline if entry[0] is cycle]
    for entry in queued:
        pipeline.remove(entry)
    return bool(queued)  # queued: a request before it runs; running: it is the earliest
