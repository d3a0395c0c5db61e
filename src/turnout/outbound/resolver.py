"""Name resolution for checked destinations.

The policy resolves a name once, checks every address it got, and hands those addresses to
the connection: the socket never looks the name up again, so a name that answers "public"
to the check and "private" to the connect (DNS rebinding) gains nothing.

Two resolvers: the system's (``getaddrinfo``, what every other program on the host sees) and
a DNS client asking configured name servers directly (``outbound.nameservers``), for hosts
whose system resolver should not decide what the gateway may reach, and for tests that run a
DNS server of their own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Protocol

from turnout.outbound.addresses import IPAddress


class ResolveError(OSError):
    """The name has no address (or the lookup failed)."""


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of ``host``, in the order to try them; raises ResolveError."""
        ...


def _unique(addrs: list[IPAddress]) -> list[IPAddress]:
    seen: set[IPAddress] = set()
    return [a for a in addrs if not (a in seen or seen.add(a))]  # type: ignore[func-returns-value]


class SystemResolver:
    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ResolveError(f"cannot resolve {host}: {exc.strerror or exc}") from None
        out: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            out.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        if not out:
            raise ResolveError(f"cannot resolve {host}: no address")
        return _unique(out)


class NameserverResolver:
    """A/AAAA queries to the given servers (``host`` or ``host:port``, ``[v6]:port``)."""

    def __init__(self, nameservers: tuple[str, ...], timeout: float = 5.0) -> None:
        import dns.asyncresolver

        self._resolver = dns.asyncresolver.Resolver(configure=False)
        servers: list[str] = []
        ports: dict[str, int] = {}
        for entry in nameservers:
            host, port = _split_server(entry)
            servers.append(host)
            ports[host] = port
        self._resolver.nameservers = servers
        self._resolver.nameserver_ports = ports
        self._resolver.lifetime = timeout
        self._resolver.cache = None  # every connection asks; TTLs are the server's business

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        import dns.exception
        import dns.resolver

        out: list[IPAddress] = []
        errors: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(host, rdtype, search=False)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except dns.exception.DNSException as exc:
                errors.append(type(exc).__name__)
                continue
            out.extend(ipaddress.ip_address(r.to_text()) for r in answer)
        if not out:
            why = ", ".join(errors) or "no address"
            raise ResolveError(f"cannot resolve {host}: {why}")
        return _unique(out)


def _split_server(entry: str) -> tuple[str, int]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port)
    return entry, 53
