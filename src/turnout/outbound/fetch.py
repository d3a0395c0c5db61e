"""One request to a URL someone else supplied, through the outbound policy, following
redirects: each hop is checked again (a public page that redirects to 169.254.169.254 is
refused at the hop), credentials are dropped when a redirect leaves the origin, and the whole
exchange is bounded in time, in redirects and in body size.

    fetched = await fetch(policy, "https://agent.example/.well-known/agent.json",
                          origin=Origin.CALLER, max_bytes=256_000, timeout=10)
    fetched.status, fetched.headers, fetched.body, fetched.url   # url: after redirects

For the features that fetch caller-supplied URLs (tool servers, agent cards, OAuth metadata,
webhooks). Provider calls do not come here: they go through the pooled client, which never
follows redirects (an upstream's 3xx is its failure: turnout.providers.relay).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from turnout.errors import PayloadTooLarge, UpstreamUnavailable
from turnout.outbound.policy import Destination, Origin, OutboundPolicy
from turnout.upstream.h1 import Pool, UpstreamError
from turnout.upstream.h1.connection import Connection

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ORIGIN_BOUND = frozenset({b"authorization", b"cookie", b"proxy-authorization", b"x-api-key"})


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int
    headers: list[tuple[bytes, bytes]]  # lower-case names
    body: bytes
    url: str  # the URL that answered (after redirects)


async def fetch(
    policy: OutboundPolicy,
    url: str,
    *,
    origin: Origin = Origin.CALLER,
    method: str = "GET",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    max_bytes: int = 1 << 20,
    timeout: float = 10.0,  # noqa: ASYNC109 - one bound for the whole exchange, redirects included
    max_redirects: int = 3,
    ssl_context: ssl.SSLContext | None = None,
) -> Fetched:
    """Raises OutboundRefused (a hop the policy refuses), PayloadTooLarge (body over
    ``max_bytes``), UpstreamUnavailable (unreachable, too many redirects) or TimeoutError."""
    sent = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    async with asyncio.timeout(timeout):
        for _hop in range(max_redirects + 1):
            dest = policy.check_url(url, origin)  # every hop: the first and each redirect
            status, got, data = await _once(
                policy, dest, origin, method, sent, body, max_bytes, ssl_context
            )
            location = next((v for k, v in got if k == b"location"), None)
            if status not in _REDIRECTS or location is None:
                return Fetched(status, got, data, url)
            nxt = urljoin(url, location.decode("latin-1"))
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", b""
            if _origin_of(nxt) != _origin_of(url):
                sent = [(k, v) for k, v in sent if k not in _ORIGIN_BOUND]
            url = nxt
    raise UpstreamUnavailable(f"more than {max_redirects} redirects")


async def _once(
    policy: OutboundPolicy,
    dest: Destination,
    origin: Origin,
    method: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    max_bytes: int,
    ssl_context: ssl.SSLContext | None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    ctx = (ssl_context or ssl.create_default_context()) if dest.tls else None

    async def connector(
        factory: Callable[[], Connection],
    ) -> tuple[asyncio.BaseTransport, Connection]:
        return await policy.connect(dest, origin, factory, ssl=ctx)

    async with Pool(dest.host, dest.port, ssl=ctx, connector=connector, max_idle=0) as pool:
        try:
            resp = await pool.request(method.encode("ascii"), dest.target.encode(), headers, body)
            parts: list[bytes] = []
            size = 0
            async for chunk in resp:
                size += len(chunk)
                if size > max_bytes:
                    resp.close()
                    raise PayloadTooLarge(f"response from {dest.host} over {max_bytes} bytes")
                parts.append(chunk)
        except (UpstreamError, OSError) as exc:
            raise UpstreamUnavailable(f"{dest.host}:{dest.port}: {type(exc).__name__}") from None
        return resp.status, [(k.lower(), v) for k, v in resp.headers], b"".join(parts)


def _origin_of(url: str) -> tuple[str, str, int | None]:
    p = urlsplit(url)
    return (p.scheme, (p.hostname or "").lower(), p.port)
