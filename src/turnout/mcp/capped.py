"""An MCP server's answer is bounded while it is read, not once it has been.

``max_message_bytes`` is checked on a result the SDK has read and parsed; before that, the SDK
reads a JSON answer whole (``Response.aread``), so a server that answers a tool call with
300 MB took the gateway to 1.6 GB of memory before the check refused it (and left it at
420 MB). The SDK bounds each event of an SSE answer itself (1 MiB), not a JSON body.

So the HTTP client given to the SDK has a transport that bounds every body that is not an
event stream at :func:`wire_cap` bytes: past it the read fails with :class:`AnswerTooLarge`, a
stream error the SDK turns into an error for that request alone (the session stays up). The
cap is a multiple of the result's limit, not the limit itself: the wire may spell what the
check counts in more bytes (``\\u00e9`` for ``é``, indentation), and the exact check stays
where it was. Bodies are asked for uncompressed (``accept-encoding: identity``) and one that
comes compressed anyway is refused: its decoded size cannot be bounded by counting what
arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2

# What the client's error says, and what Upstream.request recognises it by.
MARK = "answer passed the gateway's read limit"
COMPRESSED = "compressed with"
IDENTITY = {"accept-encoding": "identity"}


class AnswerTooLarge(httpx2.StreamError):
    """A body past the cap, or compressed: a stream error, which the SDK reports for that
    request only."""


def wire_cap(limit: int) -> int:
    """Bytes read of one answer for a result limit of ``limit`` (JSON's escapes spell a
    character in at most three times its UTF-8 bytes; the rest is room for layout)."""
    return 4 * limit + 65536


class _Capped(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, cap: int, refused: str | None) -> None:
        self._inner = inner
        self._cap = cap
        self._refused = refused  # a reason to refuse before reading anything

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._refused is not None:
            raise AnswerTooLarge(f"the MCP server's {MARK} ({self._refused})")
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._cap:
                raise AnswerTooLarge(f"the MCP server's {MARK} ({self._cap} bytes)")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class CappedTransport(httpx2.AsyncBaseTransport):
    """The SDK's HTTP transport with every non-SSE body bounded at ``wire_cap(limit)``."""

    def __init__(self, limit: int, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self._inner = inner if inner is not None else httpx2.AsyncHTTPTransport()
        self._cap = wire_cap(limit)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        headers = response.headers
        if headers.get("content-type", "").lower().startswith("text/event-stream"):
            return response  # the SDK bounds each event
        refused = None
        encoding = headers.get("content-encoding", "").strip().lower()
        length = headers.get("content-length", "")
        if encoding not in ("", "identity"):
            refused = f"{COMPRESSED} {encoding[:40]}, asked for identity"
        elif length.isascii() and length.isdigit() and int(length) > self._cap:
            refused = f"{length} bytes announced, {self._cap} allowed"
        stream = response.stream
        assert isinstance(stream, httpx2.AsyncByteStream)
        response.stream = _Capped(stream, self._cap, refused)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def capped_client(
    limit: int,
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
) -> httpx2.AsyncClient:
    """An HTTP client for the SDK's transports (``streamable_http_client``'s ``http_client``,
    ``sse_client``'s ``httpx_client_factory``) whose answers are bounded."""
    return httpx2.AsyncClient(
        headers={**(headers or {}), **IDENTITY},
        timeout=timeout if timeout is not None else httpx2.Timeout(30.0, read=300.0),
        auth=auth,
        transport=CappedTransport(limit),
    )
