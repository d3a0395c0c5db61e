"""How the pooled client opens a connection for one origin: TLS settings, proxy and the
outbound policy, folded into one :data:`~turnout.upstream.h1.Connector` per pool.

- no proxy: :meth:`OutboundPolicy.connect` (by name for trusted destinations, to the checked
  addresses for checked ones);
- https through a proxy: a CONNECT tunnel naming the checked address (or the host name when
  trusted), then TLS to the provider inside it, SNI and certificate checks on the host name;
  plain http to a checked *name* is tunnelled the same way (without TLS), so the proxy never
  resolves a name the policy did not see;
- other plain http through a proxy: a connection to the proxy, and absolute-form request
  targets (``http://host:port/path``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from turnout.outbound import Destination, Origin, OutboundPolicy
from turnout.upstream.base import Egress
from turnout.upstream.h1 import Connector
from turnout.upstream.h1.connection import Connection
from turnout.upstream.proxy import Proxy, ProxyRules, open_tunnel


def tls_context(egress: Egress) -> ssl.SSLContext:
    """The TLS context of one provider: ``ca_file`` replaces the system's trust store, a client
    certificate is presented when configured, ``verify: false`` turns every check off."""
    ctx = ssl.create_default_context(cafile=egress.ca_file)
    if egress.cert_file:
        ctx.load_cert_chain(egress.cert_file, egress.key_file)
    if not egress.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass(frozen=True, slots=True)
class Route:
    """Everything a pool needs to reach one origin."""

    connector: Connector
    target_prefix: bytes  # absolute-form prefix when an HTTP proxy carries plain http
    extra_headers: tuple[tuple[bytes, bytes], ...]  # Proxy-Authorization for such a proxy
    proxy: Proxy | None


def select_proxy(egress: Egress, env: ProxyRules, dest: Destination) -> Proxy | None:
    if egress.proxy is None:
        return env.select(dest.scheme, dest.host, dest.port)
    if egress.proxy.lower() in ("none", "direct", ""):
        return None
    return Proxy.parse(egress.proxy)


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def build_route(
    policy: OutboundPolicy,
    dest: Destination,
    egress: Egress,
    ctx: ssl.SSLContext | None,
    proxy: Proxy | None,
) -> Route:
    origin = Origin(egress.origin)
    checked = policy.checked(origin)

    async def pinned_address() -> str | None:
        """The checked address a proxy should connect to (None: let it resolve the name)."""
        if not checked:
            return None
        return str((await policy.addresses(dest, origin))[0])

    if proxy is None:

        async def direct(
            factory: Callable[[], Connection],
        ) -> tuple[asyncio.BaseTransport, Connection]:
            return await policy.connect(dest, origin, factory, ssl=ctx)

        return Route(direct, b"", (), None)

    if dest.tls or (checked and dest.ip is None):
        # https always, and plain http to a checked name: a tunnel to the checked address, so
        # the proxy never resolves a name the policy did not see.

        async def tunnel(
            factory: Callable[[], Connection],
        ) -> tuple[asyncio.BaseTransport, Connection]:
            loop = asyncio.get_running_loop()
            raw = await open_tunnel(proxy, dest.host, dest.port, await pinned_address())
            conn = factory()
            raw.set_protocol(conn)
            transport: asyncio.BaseTransport = raw
            if ctx is not None:
                try:
                    tls = await loop.start_tls(raw, conn, ctx, server_hostname=dest.host)
                except BaseException:
                    raw.abort()
                    raise
                assert tls is not None
                transport = tls
            conn.connection_made(transport)
            return transport, conn

        return Route(tunnel, b"", (), proxy)

    async def via_proxy(
        factory: Callable[[], Connection],
    ) -> tuple[asyncio.BaseTransport, Connection]:
        loop = asyncio.get_running_loop()
        return await loop.create_connection(factory, proxy.host, proxy.port)

    # Plain http in absolute form (an address literal, or a trusted name the proxy resolves).
    prefix = f"http://{_authority(dest.host, dest.port)}".encode("ascii")
    auth = ((b"proxy-authorization", proxy.authorization),) if proxy.authorization else ()
    return Route(via_proxy, prefix, auth, proxy)
