"""The gateway's upstream client: the HTTP/1.1 pool of :mod:`turnout.upstream.h1` behind
the :class:`~turnout.upstream.base.UpstreamClient` port.

This module is the one boundary where the pool's own failures become the gateway's:
connection problems → :class:`UpstreamUnavailable`, silence and deadlines →
:class:`UpstreamTimeout`. One pool per origin (and connect timeout); parsed URLs are cached
because a gateway calls the same few dozen URLs millions of times.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

from turnout.errors import GatewayError, UpstreamTimeout, UpstreamUnavailable
from turnout.upstream.base import Timeouts
from turnout.upstream.h1 import ConnectionClosedError, Pool, Response, UpstreamError
from turnout.upstream.h1.response import ResponseTimeout

_USER_AGENT = (b"user-agent", b"turnout/0.1")
_TARGET_CACHE_MAX = 4096


def _map(exc: BaseException, where: str) -> GatewayError:
    if isinstance(exc, ResponseTimeout):
        return UpstreamTimeout(f"upstream {where}: {exc}")
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"upstream {where}: connect timed out")
    if isinstance(exc, ConnectionClosedError):
        return UpstreamUnavailable(f"upstream {where}: connection closed mid-response")
    if isinstance(exc, ssl.SSLError):
        return UpstreamUnavailable(f"upstream {where}: TLS error ({exc.reason})")
    if isinstance(exc, UpstreamError):
        return UpstreamUnavailable(f"upstream {where}: invalid HTTP response")
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return UpstreamUnavailable(f"cannot connect to upstream {where}: {reason}")
    return UpstreamUnavailable(f"upstream {where}: {type(exc).__name__}")


class PooledResponse:
    """A response as the port describes it; it is also its own chunk iterator."""

    __slots__ = ("_resp", "_where", "headers", "status")

    def __init__(self, resp: Response, where: str) -> None:
        self._resp = resp
        self._where = where
        self.status = resp.status
        self.headers = [(k.lower(), v) for k, v in resp.headers]

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (UpstreamError, OSError) as exc:
            raise _map(exc, self._where) from None

    def iter_chunks(self) -> PooledResponse:
        return self

    def __aiter__(self) -> PooledResponse:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._resp.__anext__()
        except (UpstreamError, OSError) as exc:
            raise _map(exc, self._where) from None

    async def aclose(self) -> None:
        """Abandoning a stream aborts its connection, which tells the provider to stop."""
        self._resp.close()

    def close(self) -> None:
        self._resp.close()


class PooledClient:
    def __init__(self) -> None:
        self._pools: dict[tuple[str, str, int, float], Pool] = {}
        self._targets: dict[tuple[str, float], tuple[Pool, bytes, str]] = {}
        self._ssl: ssl.SSLContext | None = None

    def _target(self, url: str, connect_timeout: float) -> tuple[Pool, bytes, str]:
        key = (url, connect_timeout)
        target = self._targets.get(key)
        if target is not None:
            return target
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamUnavailable(f"unsupported upstream URL scheme in {parts.scheme}://")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        pool_key = (parts.scheme, parts.hostname, port, connect_timeout)
        pool = self._pools.get(pool_key)
        if pool is None:
            if tls and self._ssl is None:
                self._ssl = ssl.create_default_context()  # loads the CA bundle once
            pool = Pool(
                parts.hostname,
                port,
                ssl=self._ssl if tls else None,
                connect_timeout=connect_timeout,
                default_headers=(_USER_AGENT,),
            )
            self._pools[pool_key] = pool
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if len(self._targets) >= _TARGET_CACHE_MAX:
            self._targets.clear()
        target = self._targets[key] = (pool, path.encode("ascii"), f"{parts.hostname}:{port}")
        return target

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeouts: Timeouts,
    ) -> PooledResponse:
        pool, path, where = self._target(url, timeouts.connect)
        encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        deadline = None
        if timeouts.total is not None:
            deadline = asyncio.get_running_loop().time() + timeouts.total
        try:
            resp = await pool.request(
                method.encode("ascii"),
                path,
                encoded,
                body,
                read_timeout=timeouts.read,
                deadline=deadline,
            )
        except (UpstreamError, OSError) as exc:
            raise _map(exc, where) from None
        return PooledResponse(resp, where)

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()
        self._targets.clear()
