"""The HTTP transport google-auth refreshes Vertex AI's tokens with, bounded like every other
upstream call of the gateway.

google-auth's own ``requests`` transport waits 120 seconds for a token endpoint (or the
metadata server) by default and reads its whole answer into memory, however large: a hung
endpoint held the refresh (a worker thread, and every request of that credential waiting on
it) for two minutes, and an endpoint that answered without end grew the gateway without
bound. This one waits at most the provider's connect timeout to connect and ``read`` seconds
between two reads (at most :data:`READ_MAX`), reads at most :data:`BODY_MAX` bytes of an
answer, and follows no redirect (an endpoint is where the key file or the environment says);
any failure is google-auth's ``TransportError``, which names no credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BODY_MAX = 64 * 1024  # a token answer is a few kilobytes
READ_MAX = 30.0


class _Answer:
    """google-auth's ``Response``: a status, headers and the (bounded) body."""

    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data


class BoundedRequest:
    """A ``google.auth.transport.Request`` over ``requests``, with bounds (see the module)."""

    def __init__(self, connect: float, read: float) -> None:
        import requests

        self._session = requests.Session()
        self._timeout = (connect, min(read, READ_MAX))

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Answer:
        import requests
        from google.auth import exceptions

        try:
            resp = self._session.request(
                method,
                url,
                data=body,
                headers=dict(headers or {}),
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
            )
            with resp:
                parts, size = [], 0
                for part in resp.iter_content(16 * 1024):
                    size += len(part)
                    if size > BODY_MAX:
                        too_large = f"answer larger than {BODY_MAX} bytes"
                        raise exceptions.TransportError(too_large)  # type: ignore[no-untyped-call]
                    parts.append(part)
                return _Answer(resp.status_code, dict(resp.headers), b"".join(parts))
        except requests.RequestException as exc:
            name = type(exc).__name__
            raise exceptions.TransportError(name) from None  # type: ignore[no-untyped-call]


__all__ = ["BODY_MAX", "BoundedRequest"]
