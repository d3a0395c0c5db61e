"""Library clients behind the gateway's own client port (``turnout.upstream.base``).

``bench/client_bench.py`` runs the *whole gateway* with each of these in place of its own pool,
so the comparison includes everything a real adapter does: header conversion both ways,
error mapping and the response object the providers consume. Each adapter is as thin as its
library allows and keeps connections alive with a large pool; decompression is off (the
gateway relays bytes), redirects are not followed. CA bundle: ``SSL_CERT_FILE``. The
outbound policy and the provider's ``Egress`` are accepted and ignored (the benchmark's
upstream is trusted and needs no proxy), so the adapters do less than the gateway's own
client does.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from turnout.errors import UpstreamTimeout, UpstreamUnavailable
from turnout.upstream.base import Egress, Timeouts

POOL = 1024


def _ctx() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"))


class _AiohttpResponse:
    def __init__(self, resp: Any) -> None:
        self._r = resp
        self.status = resp.status
        self.headers = [(k.lower(), v) for k, v in resp.raw_headers]

    async def read(self) -> bytes:
        try:
            return bytes(await self._r.read())
        finally:
            self._r.release()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._r.content.iter_any():
                yield chunk
        finally:
            self._r.release()

    def close(self) -> None:
        self._r.close()


class AiohttpClient:
    def __init__(self, policy: Any = None, environ: Any = None) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._s = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL, keepalive_timeout=60, ssl=_ctx()),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        t: Timeouts,
        egress: Egress | None = None,
    ) -> _AiohttpResponse:
        aiohttp = self._aiohttp
        timeout = aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read)
        try:
            r = await self._s.request(
                method, url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
        except TimeoutError:
            raise UpstreamTimeout("upstream timed out") from None
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(f"upstream: {type(exc).__name__}") from None
        return _AiohttpResponse(r)

    async def close(self) -> None:
        await self._s.close()


class _HttpxResponse:
    def __init__(self, resp: Any) -> None:
        self._r = resp
        self.status = resp.status_code
        self.headers = [(k.lower(), v) for k, v in resp.headers.raw]

    async def read(self) -> bytes:
        try:
            return bytes(await self._r.aread())
        finally:
            await self._r.aclose()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._r.aiter_raw():
                yield chunk
        finally:
            await self._r.aclose()

    def close(self) -> None:
        import asyncio

        asyncio.get_running_loop().create_task(self._r.aclose())


class HttpxClient:
    def __init__(self, policy: Any = None, environ: Any = None) -> None:
        import httpx

        self._httpx = httpx
        self._c = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL),
            verify=_ctx(),
            trust_env=False,
        )

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        t: Timeouts,
        egress: Egress | None = None,
    ) -> _HttpxResponse:
        httpx = self._httpx
        timeout = httpx.Timeout(t.read, connect=t.connect)
        req = self._c.build_request(method, url, content=body, headers=headers, timeout=timeout)
        try:
            r = await self._c.send(req, stream=True)
        except httpx.TimeoutException:
            raise UpstreamTimeout("upstream timed out") from None
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"upstream: {type(exc).__name__}") from None
        return _HttpxResponse(r)

    async def close(self) -> None:
        await self._c.aclose()


class _PyreqwestResponse:
    def __init__(self, cm: Any, resp: Any) -> None:
        self._cm = cm
        self._r = resp
        self.status = resp.status
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers.items()]

    async def read(self) -> bytes:
        try:
            out = bytearray()
            reader = self._r.body_reader
            while (c := await reader.read_chunk()) is not None:
                out += c.to_bytes()
            return bytes(out)
        finally:
            await self._cm.__aexit__(None, None, None)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            reader = self._r.body_reader
            while (c := await reader.read_chunk()) is not None:
                yield c.to_bytes()
        finally:
            await self._cm.__aexit__(None, None, None)

    def close(self) -> None:
        import asyncio

        asyncio.get_running_loop().create_task(self._cm.__aexit__(None, None, None))


class PyreqwestClient:
    def __init__(self, policy: Any = None, environ: Any = None) -> None:
        from pyreqwest.client import ClientBuilder

        builder = (
            ClientBuilder()
            .max_connections(None)
            .pool_max_idle_per_host(POOL)
            .gzip(False)
            .brotli(False)
            .zstd(False)
            .deflate(False)
            .follow_redirects(False)
            .http1_only()
        )
        ca = os.environ.get("SSL_CERT_FILE")
        if ca:
            with open(ca, "rb") as f:
                builder = builder.add_root_certificate_pem(f.read())
        self._c = builder.build()

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        t: Timeouts,
        egress: Egress | None = None,
    ) -> _PyreqwestResponse:
        from pyreqwest.exceptions import ConnectTimeoutError, RequestError

        cm = (
            self._c.request(method, url)
            .headers(headers)
            .body_bytes(body)
            .timeout(timedelta(seconds=t.total or 600))
            .build_streamed()
        )
        try:
            resp = await cm.__aenter__()
        except ConnectTimeoutError:
            raise UpstreamTimeout("upstream connect timed out") from None
        except RequestError as exc:
            raise UpstreamUnavailable(f"upstream: {type(exc).__name__}") from None
        return _PyreqwestResponse(cm, resp)

    async def close(self) -> None:
        await self._c.close()


KINDS: dict[str, type[Any]] = {
    "aiohttp": AiohttpClient,
    "httpx": HttpxClient,
    "pyreqwest": PyreqwestClient,
}
