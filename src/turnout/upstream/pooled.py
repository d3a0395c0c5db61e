"""The gateway's upstream client: the HTTP/1.1 pool of :mod:`turnout.upstream.h1` behind
the :class:`~turnout.upstream.base.UpstreamClient` port.

This module is the one boundary where the pool's own failures become the gateway's:
connection problems → :class:`UpstreamUnavailable`, silence and deadlines →
:class:`UpstreamTimeout`, a header value that would split the request → :class:`BadRequest`.
One pool per origin, connect timeout and :class:`~turnout.upstream.base.Egress` (proxy, TLS,
limits, outbound origin); parsed URLs are cached because a gateway calls the same few dozen
URLs millions of times. Every connection is opened through the outbound policy
(:mod:`turnout.upstream.connect`). Bodies the upstream compressed (gzip, deflate, brotli) are
decoded here, so everything above sees plain bytes.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping

from turnout.errors import BadRequest, GatewayError, UpstreamTimeout, UpstreamUnavailable
from turnout.outbound import Origin, OutboundPolicy
from turnout.upstream.base import DEFAULT_EGRESS, Egress, Timeouts
from turnout.upstream.connect import build_route, select_proxy, tls_context
from turnout.upstream.decode import Decoder, decoder_for
from turnout.upstream.h1 import ConnectionClosedError, Pool, PoolTimeout, Response, UpstreamError
from turnout.upstream.h1.response import ResponseTimeout
from turnout.upstream.proxy import ProxyError, ProxyRules

_USER_AGENT = (b"user-agent", b"turnout/0.1")
_TARGET_CACHE_MAX = 4096
_POOLS_SWEEP = 64  # pools held before unused ones are dropped (at the next new one)
_ENCODED_MAX = 1024  # encoded headers kept (PooledClient._encoded)
_ENCODED_VALUE_MAX = 512  # longest value kept
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


def _map(exc: BaseException, where: str) -> GatewayError:
    if isinstance(exc, ResponseTimeout):
        return UpstreamTimeout(f"upstream {where}: {exc}")
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"upstream {where}: connect timed out")
    if isinstance(exc, ConnectionClosedError):
        return UpstreamUnavailable(f"upstream {where}: connection closed mid-response")
    if isinstance(exc, PoolTimeout):
        return UpstreamUnavailable(f"upstream {where}: {exc}")
    if isinstance(exc, ProxyError):
        return UpstreamUnavailable(f"upstream {where} through the proxy: {exc}")
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

    __slots__ = ("_decoder", "_resp", "_where", "headers", "status")

    def __init__(self, resp: Response, where: str) -> None:
        self._resp = resp
        self._where = where
        self.status = resp.status
        self.headers = headers = [(k.lower(), v) for k, v in resp.headers]
        self._decoder: Decoder | None = None
        for k, v in headers:
            if k == b"content-encoding":
                self._decoder = decoder_for(v)
                if self._decoder is not None:  # the body reaches everyone above decoded
                    self.headers = [h for h in headers if h[0] != b"content-encoding"]
                break

    async def read(self) -> bytes:
        try:
            decoder = self._decoder
            body = await self._resp.read()
            if decoder is None:
                return body
            parts = [decoder.feed(body)]  # no cap asked for (max_response_bytes: 0)
            while piece := decoder.more():
                parts.append(piece)
            while piece := decoder.flush():
                parts.append(piece)
            return b"".join(parts)
        except (UpstreamError, OSError) as exc:
            raise _map(exc, self._where) from None
        except ValueError as exc:
            raise UpstreamUnavailable(f"upstream {self._where}: {exc}") from None

    def iter_chunks(self) -> PooledResponse:
        return self

    def __aiter__(self) -> PooledResponse:
        return self

    async def __anext__(self) -> bytes:
        decoder = self._decoder
        try:
            if decoder is None:
                return await self._resp.__anext__()
            # One bounded step at a time, so a body cap above stops a compression bomb after
            # at most one step past the cap (upstream/decode.py).
            while True:
                chunk = decoder.more()  # drained before it is fed again
                if chunk:
                    return chunk
                try:
                    chunk = decoder.feed(await self._resp.__anext__())
                except StopAsyncIteration:
                    tail = decoder.flush()
                    if tail:
                        return tail
                    raise
                if chunk:
                    return chunk
        except (UpstreamError, OSError) as exc:
            raise _map(exc, self._where) from None
        except ValueError as exc:
            raise UpstreamUnavailable(f"upstream {self._where}: {exc}") from None

    async def aclose(self) -> None:
        """Abandoning a stream aborts its connection, which tells the provider to stop."""
        self._resp.close()

    def close(self) -> None:
        self._resp.close()


class PooledClient:
    """One pool per origin and egress settings, every connection through ``policy``.

    ``environ`` is read once for ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``.
    """

    def __init__(
        self, policy: OutboundPolicy | None = None, environ: Mapping[str, str] = os.environ
    ) -> None:
        self.policy = policy or OutboundPolicy()
        self._proxies = ProxyRules.from_env(environ)
        self._pools: dict[tuple[str, str, int, float, Egress], Pool] = {}
        self._targets: dict[tuple[str, float, Egress], tuple[Pool, bytes, str]] = {}
        self._ssl: dict[Egress, ssl.SSLContext] = {}
        # Headers already checked and encoded: a provider's own (its key, its content type)
        # recur on every request. Short values only, and a bounded count, so forwarded client
        # headers cannot grow it.
        self._encoded: dict[tuple[str, str], tuple[bytes, bytes]] = {}

    def _context(self, egress: Egress) -> ssl.SSLContext:
        key = Egress(
            ca_file=egress.ca_file,
            cert_file=egress.cert_file,
            key_file=egress.key_file,
            verify=egress.verify,
        )
        ctx = self._ssl.get(key)
        if ctx is None:
            try:
                ctx = self._ssl[key] = tls_context(key)  # loads a CA bundle once per setting
            except (OSError, ssl.SSLError) as exc:
                raise UpstreamUnavailable(f"TLS settings cannot be loaded: {exc}") from None
        return ctx

    def _target(self, url: str, connect_timeout: float, egress: Egress) -> tuple[Pool, bytes, str]:
        key = (url, connect_timeout, egress)
        target = self._targets.get(key)
        if target is not None:
            return target
        dest = self.policy.check_url(url, Origin(egress.origin))
        where = f"{dest.host}:{dest.port}"
        pool_key = (dest.scheme, dest.host, dest.port, connect_timeout, egress)
        pool = self._pools.get(pool_key)
        if pool is None:
            ctx = self._context(egress) if dest.tls else None
            try:
                proxy = select_proxy(egress, self._proxies, dest)
            except ValueError as exc:
                raise UpstreamUnavailable(f"upstream {where}: proxy setting: {exc}") from None
            route = build_route(self.policy, dest, egress, ctx, proxy)
            if len(self._pools) >= _POOLS_SWEEP:
                self._forget_unused()
            pool = Pool(
                dest.host,
                dest.port,
                ssl=ctx,
                connect_timeout=connect_timeout,
                default_headers=(_USER_AGENT, *route.extra_headers),
                connector=route.connector,
                target_prefix=route.target_prefix,
                max_connections=egress.max_connections,
                pool_timeout=egress.pool_timeout,
            )
            self._pools[pool_key] = pool
        if len(self._targets) >= _TARGET_CACHE_MAX:
            self._targets.clear()
        target = self._targets[key] = (pool, dest.target.encode("ascii"), where)
        return target

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeouts: Timeouts,
        egress: Egress = DEFAULT_EGRESS,
    ) -> PooledResponse:
        pool, path, where = self._target(url, timeouts.connect, egress)
        known = self._encoded
        encoded = []
        for header in headers:
            pair = known.get(header)
            if pair is None:
                pair = _encode_one(*header)
                if len(header[1]) <= _ENCODED_VALUE_MAX:
                    if len(known) >= _ENCODED_MAX:
                        known.clear()
                    known[header] = pair
            encoded.append(pair)
        try:
            resp = await pool.request(
                method.encode("ascii"),
                path,
                encoded,
                body,
                read_timeout=timeouts.read,
                total=timeouts.total,
            )
        except (UpstreamError, OSError) as exc:
            raise _map(exc, where) from None
        return PooledResponse(resp, where)

    def _forget_unused(self) -> None:
        """Drop the pools that hold nothing (their idle connections closed by their sweeper):
        destinations of providers a reload or the admin API removed, or a connect timeout that
        changed, would otherwise stay in the map for the life of the process."""
        unused = [key for key, pool in self._pools.items() if pool.unused]
        for key in unused:
            del self._pools[key]
        if unused:
            self._targets.clear()  # entries that name a dropped pool

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()
        self._targets.clear()


def _encode_one(k: str, v: str) -> tuple[bytes, bytes]:
    """A header as bytes, refusing what would change the request's framing: a name that is
    not an HTTP token, a value with CR, LF or NUL (the value is never echoed: it may be a key)."""
    if _BAD_VALUE.search(v) is not None or _TOKEN.fullmatch(k) is None:
        name = k if _TOKEN.fullmatch(k) else repr(k[:40])
        raise BadRequest(f"header {name} cannot be sent upstream (invalid characters)")
    try:
        return k.encode("latin-1"), v.encode("latin-1")
    except UnicodeEncodeError:
        raise BadRequest(f"header {k} cannot be sent upstream (not latin-1)") from None
