"""The server limits, as the HTTP protocol reads them, and the scope keys it shares with the
request handlers.

Kept free of uvicorn imports: the API layer reads the scope keys, the protocol
(:mod:`turnout.server.protocol`) reads the limits from the application object it serves and
answers with :func:`overloaded` past ``server.max_concurrency``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from turnout.config.server import ServerConfig
from turnout.errors import Overloaded, error_body
from turnout.protocols.registry import dialect

# Scope keys. A handler that wants its upstream work cancelled when the client leaves before
# the response starts stores its task under TASK; the protocol cancels that task and records
# why under GONE (499 the client went away, 408 it was too slow sending its body).
TASK = "turnout.task"
GONE = "turnout.gone"


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0  # 0: off
    body_timeout: float = 30.0  # 0: off
    idle_timeout: float = 75.0  # 0: off
    write_timeout: float = 60.0  # 0: off

    @classmethod
    def from_config(cls, server: ServerConfig) -> ServerLimits:
        return cls(
            max_header_bytes=server.max_header_bytes,
            max_headers=server.max_headers,
            header_timeout=server.header_timeout,
            body_timeout=server.body_timeout,
            idle_timeout=server.idle_timeout,
            write_timeout=server.write_timeout,
        )


async def overloaded(scope: Any, receive: Any, send: Any) -> None:
    """The answer past ``server.max_concurrency``, in place of the application: a 503 in the
    request path's protocol (uvicorn's was plain text no SDK could read), retryable after a
    second, and the connection closed."""
    err = Overloaded(
        "The gateway is at its concurrency limit (server.max_concurrency); retry shortly.",
        retry_after=1,
    )
    body = error_body(err, dialect(scope["path"][:64]).name)
    headers = [
        (b"content-type", b"application/json"),
        *err.headers(),
        (b"connection", b"close"),
        (b"content-length", b"%d" % len(body)),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
