"""Forward proxies: which one a destination goes through, and the CONNECT tunnel.

The environment is read the way curl and most HTTP libraries read it: ``HTTPS_PROXY`` for
https destinations, ``HTTP_PROXY`` for http ones (lower-case names too; ``ALL_PROXY`` for
both), ``NO_PROXY`` a comma-separated list of exceptions — ``*``, host names (``example.com``
also covers its subdomains, a leading dot is ignored), IP addresses and CIDRs, each optionally
with ``:port``. A provider's ``proxy`` setting overrides the environment (``none`` means
direct).

https destinations are tunnelled (``CONNECT host:port``, then TLS to the provider inside the
tunnel, so the proxy sees neither keys nor prompts); http destinations are sent to the proxy
in absolute form. Only ``http://`` proxies are supported, with optional basic credentials in
the URL.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httptools


class ProxyError(OSError):
    """The proxy refused or broke the tunnel."""


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: bytes | None = None  # the Proxy-Authorization value

    def __repr__(self) -> str:  # credentials never reach a log line
        return f"Proxy({self.host}:{self.port})"

    @staticmethod
    def parse(url: str) -> Proxy:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http":
            raise ValueError(f"unsupported proxy scheme {parts.scheme}:// (http:// only)")
        if not parts.hostname:
            raise ValueError("proxy URL without a host")
        auth = None
        if parts.username is not None:
            raw = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            auth = b"Basic " + base64.b64encode(raw)
        return Proxy(parts.hostname, parts.port or 80, auth)


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.lower()) or environ.get(name.upper()) or ""


@dataclass(frozen=True, slots=True)
class ProxyRules:
    """The proxy settings of one process environment."""

    http: Proxy | None = None
    https: Proxy | None = None
    no_proxy: tuple[str, ...] = ()

    @staticmethod
    def from_env(environ: Mapping[str, str]) -> ProxyRules:
        every = _env(environ, "all_proxy")
        http = _env(environ, "http_proxy") or every
        https = _env(environ, "https_proxy") or every
        no = tuple(e.strip().lower() for e in _env(environ, "no_proxy").split(",") if e.strip())
        return ProxyRules(
            Proxy.parse(http) if http else None, Proxy.parse(https) if https else None, no
        )

    def select(self, scheme: str, host: str, port: int) -> Proxy | None:
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or bypassed(self.no_proxy, host, port):
            return None
        return proxy


def bypassed(patterns: tuple[str, ...], host: str, port: int) -> bool:
    """Whether ``NO_PROXY`` exempts ``host:port``."""
    host = host.lower().strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for raw in patterns:
        if raw == "*":
            return True
        entry, want_port = raw, None
        if entry.startswith("["):  # [v6]:port
            entry, _, rest = entry[1:].partition("]")
            want_port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif entry.count(":") == 1:
            entry, _, p = entry.partition(":")
            want_port = int(p) if p.isdigit() else None
        if want_port is not None and want_port != port:
            continue
        if ip is not None:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip(".").lstrip("*.")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


class _TunnelReply(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT (and nothing after it)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.extra = b""

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            self.extra += data
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:  # a 200 to CONNECT is an "upgrade"
            offset = upgrade.args[0] if upgrade.args else len(data)
            self.extra = data[offset:]
            if not self.done.done():
                self.done.set_result(self.parser.get_status_code())
        except httptools.HttpParserError as exc:
            if not self.done.done():
                self.done.set_exception(ProxyError(f"invalid reply from the proxy: {exc}"))

    def on_headers_complete(self) -> None:
        if not self.done.done():
            self.done.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ProxyError("the proxy closed the connection"))


async def open_tunnel(
    proxy: Proxy,
    host: str,
    port: int,
    authority_host: str | None = None,
) -> asyncio.Transport:
    """A TCP connection to ``proxy`` turned into a tunnel to ``host:port`` (CONNECT).

    ``authority_host`` is what CONNECT names (an address the outbound policy checked, so the
    proxy does not look the name up again); ``host`` otherwise.
    """
    loop = asyncio.get_running_loop()
    transport, reply = await loop.create_connection(_TunnelReply, proxy.host, proxy.port)
    target = authority_host or host
    authority = f"[{target}]:{port}" if ":" in target else f"{target}:{port}"
    head = b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (authority.encode(), authority.encode())
    if proxy.authorization:
        head += b"Proxy-Authorization: " + proxy.authorization + b"\r\n"
    transport.write(head + b"\r\n")
    try:
        status = await reply.done
    except BaseException:
        transport.abort()
        raise
    finally:
        # The parser holds the reply's callbacks: a cycle the cyclic GC would have to free.
        del reply.parser
    if status != 200:
        transport.abort()
        raise ProxyError(f"the proxy answered {status} to CONNECT {authority}")
    if reply.extra:
        transport.abort()
        raise ProxyError("the proxy sent data before the tunnel was used")
    return transport


ProtocolFactory = Callable[[], asyncio.Protocol]
