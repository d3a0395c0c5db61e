"""Upstream client on aiohttp: pooled keep-alive connections, no automatic decompression
(we ask for identity encoding and relay bytes as they are), no retries of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp

from switchyard.errors import UpstreamTimeout, UpstreamUnavailable
from switchyard.upstream.base import Timeouts


def _map(exc: BaseException) -> Exception:
    """Translate aiohttp's exceptions into the gateway's at this single boundary."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout("upstream did not answer in time")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamUnavailable(f"cannot connect to upstream {exc.host}:{exc.port}")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return UpstreamUnavailable("upstream closed the connection mid-response")
    return UpstreamUnavailable(f"upstream request failed: {type(exc).__name__}")


class AiohttpResponse:
    __slots__ = ("_resp", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.headers = [(k.lower(), v) for k, v in resp.raw_headers]

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map(exc) from None
        finally:
            self._resp.release()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        complete = False
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
            complete = True
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map(exc) from None
        finally:
            # An abandoned stream (client gone, failover) must close the upstream connection so
            # the provider stops generating; only a fully read one goes back to the pool.
            if complete:
                self._resp.release()
            else:
                self._resp.close()

    def close(self) -> None:
        self._resp.close()


class AiohttpClient:
    def __init__(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeouts: Timeouts,
    ) -> AiohttpResponse:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        try:
            resp = await self._session.request(
                method, url, data=body or None, headers=headers, timeout=timeout
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map(exc) from None
        return AiohttpResponse(resp)

    async def close(self) -> None:
        await self._session.close()
