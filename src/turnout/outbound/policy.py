"""The outbound policy: which destinations a server-side connection may reach.

Every connection the gateway opens on someone's behalf asks this object first. Destinations
the operator wrote into the config file are trusted (a local vLLM on 127.0.0.1 keeps working);
destinations that came from the admin API or from a caller are *checked*: http/https only, a
host spelled canonically, every address it resolves to public, and the connection made to the
address that was checked. An operator allowlist (CIDRs and host patterns) admits private
destinations that really are theirs. A refusal raises :class:`~turnout.errors.OutboundRefused`
(403, naming the rule) and logs one line.

    policy = OutboundPolicy(settings)                      # one per gateway (app state)
    dest = policy.check_url(url, Origin.CALLER)            # spelling rules, no I/O
    addrs = await policy.addresses(dest, Origin.CALLER)    # resolved and checked
    transport, proto = await policy.connect(dest, Origin.CALLER, factory, ssl=ctx)

:mod:`turnout.outbound.fetch` builds on it for one-off requests that follow redirects.
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import socket
import ssl as _ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from turnout.errors import OutboundRefused
from turnout.observability.logging import get_logger
from turnout.outbound.addresses import (
    Host,
    HostError,
    IPAddress,
    name_refusal,
    parse_host,
    refusal,
)
from turnout.outbound.display import scrub_urls
from turnout.outbound.resolver import NameserverResolver, ResolveError, Resolver, SystemResolver

if TYPE_CHECKING:
    from turnout.config.schema import OutboundConfig

log = get_logger("turnout.outbound")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
P = TypeVar("P", bound=asyncio.BaseProtocol)


class Origin(StrEnum):
    """Where a destination came from: it decides whether it is checked."""

    CONFIG = "config"  # written by the operator in the config file: trusted by default
    ADMIN = "admin"  # set through the admin API
    CALLER = "caller"  # supplied by an API caller (tool servers, agents, callbacks, images)


@dataclass(frozen=True, slots=True)
class OutboundSettings:
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: tuple[str, ...] = ()  # fnmatch patterns on the lower-case host name
    check_config: bool = False  # also check destinations written in the config file
    nameservers: tuple[str, ...] = ()  # empty: the system resolver
    resolve_timeout: float = 5.0

    @staticmethod
    def build(
        allow: tuple[str, ...] = (),
        check_config: bool = False,
        nameservers: tuple[str, ...] = (),
        resolve_timeout: float = 5.0,
    ) -> OutboundSettings:
        """Split an allowlist into networks (anything ``ip_network`` reads) and host patterns."""
        nets: list[IPNetwork] = []
        hosts: list[str] = []
        for entry in allow:
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.append(entry.lower())
        return OutboundSettings(
            tuple(nets), tuple(hosts), check_config, nameservers, resolve_timeout
        )


@dataclass(frozen=True, slots=True)
class Destination:
    """A URL that passed the spelling rules: ``host`` canonical, ``ip`` set for literals."""

    url: str
    scheme: str
    host: str
    port: int
    ip: IPAddress | None
    target: str = field(default="/")  # path and query, as sent in the request line

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


class OutboundPolicy:
    def __init__(self, settings: OutboundSettings | None = None, resolver: Resolver | None = None):
        self.settings = settings or OutboundSettings()
        if resolver is None:
            resolver = (
                NameserverResolver(self.settings.nameservers, self.settings.resolve_timeout)
                if self.settings.nameservers
                else SystemResolver()
            )
        self.resolver = resolver

    @staticmethod
    def from_config(config: OutboundConfig) -> OutboundPolicy:
        return OutboundPolicy(
            OutboundSettings.build(
                tuple(config.allow),
                config.check_config,
                tuple(config.nameservers),
                config.resolve_timeout,
            )
        )

    # -- decisions ------------------------------------------------------------------------
    def checked(self, origin: Origin) -> bool:
        """Whether destinations from ``origin`` go through the checks."""
        return origin is not Origin.CONFIG or self.settings.check_config

    def _host_allowed(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, p) for p in self.settings.allow_hosts)

    def _ip_allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == n.version and ip in n for n in self.settings.allow_networks)

    def _refuse(self, rule: str, detail: str, url: str, origin: Origin) -> OutboundRefused:
        log.warning("outbound connection refused", rule=rule, url=_redact(url), origin=origin)
        detail = scrub_urls(detail)  # a detail never repeats a URL's credentials
        return OutboundRefused(f"outbound destination refused ({rule}): {detail}", rule=rule)

    def check_url(self, url: str, origin: Origin = Origin.CALLER) -> Destination:
        """Parse ``url`` and apply every rule that needs no lookup (scheme, host spelling,
        address literals, names such as ``localhost``). Trusted origins are only parsed."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise self._refuse("invalid-url", _unreadable(exc), url, origin) from None
        scheme = parts.scheme.lower()
        check = self.checked(origin)
        if scheme not in ("http", "https"):
            raise self._refuse(
                "scheme", f"{scheme or 'no'} scheme (http and https only)", url, origin
            )
        if check and (parts.username is not None or parts.password is not None):
            raise self._refuse("userinfo", "credentials in the URL", url, origin)
        try:
            host = parse_host(parts.hostname or "")
        except HostError as exc:
            if not check and exc.rule != "no-host":
                host = _raw_host(parts.hostname or "")
            else:
                raise self._refuse(exc.rule, str(exc), url, origin) from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        dest = Destination(
            url, scheme, host.name, port or (443 if scheme == "https" else 80), host.ip, target
        )
        if check and not self._host_allowed(host.name):
            rule = refusal(host.ip) if host.ip is not None else name_refusal(host.name)
            if rule is not None and not (host.ip is not None and self._ip_allowed(host.ip)):
                raise self._refuse(rule, f"{host.name} is a {rule} destination", url, origin)
        return dest

    async def addresses(self, dest: Destination, origin: Origin) -> list[IPAddress]:
        """The addresses to connect to, resolved once; for checked origins every one of them
        must pass (one private answer among public ones refuses the name)."""
        if dest.ip is not None:
            return [dest.ip]
        try:
            addrs = await self.resolver.resolve(dest.host, dest.port)
        except ResolveError as exc:
            if self.checked(origin):
                raise self._refuse("unresolvable", str(exc), dest.url, origin) from None
            raise
        if self.checked(origin) and not self._host_allowed(dest.host):
            for ip in addrs:
                rule = refusal(ip)
                if rule is not None and not self._ip_allowed(ip):
                    raise self._refuse(
                        rule, f"{dest.host} resolves to {ip}, a {rule} address", dest.url, origin
                    )
        return addrs

    async def check(self, url: str, origin: Origin = Origin.CALLER) -> list[IPAddress]:
        """Both steps for a URL: refuse it or return the addresses it may be reached at."""
        return await self.addresses(self.check_url(url, origin), origin)

    # -- connecting -----------------------------------------------------------------------
    async def connect(
        self,
        dest: Destination,
        origin: Origin,
        factory: Callable[[], P],
        *,
        ssl: _ssl.SSLContext | None = None,
        within: float | None = None,
    ) -> tuple[asyncio.Transport, P]:
        """Open a connection to ``dest``: trusted destinations by name (the event loop's own
        resolution and happy eyeballs), checked ones to the checked addresses only, one
        after the other, with the host name kept for TLS (SNI and certificate checks)."""
        loop = asyncio.get_running_loop()
        server_hostname = dest.host if ssl is not None else None
        async with asyncio.timeout(within):
            if not self.checked(origin) and dest.ip is None:
                return await loop.create_connection(
                    factory, dest.host, dest.port, ssl=ssl, server_hostname=server_hostname
                )
            last: OSError | None = None
            for ip in await self.addresses(dest, origin):
                try:
                    return await loop.create_connection(
                        factory,
                        str(ip),
                        dest.port,
                        ssl=ssl,
                        server_hostname=server_hostname,
                        family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET,
                    )
                except OSError as exc:
                    last = exc
            assert last is not None
            raise last


def _raw_host(host: str) -> Host:
    """A trusted destination whose spelling the checks would refuse: kept as written."""
    return Host(host.lower(), None)


def _unreadable(exc: ValueError) -> str:
    """Why a URL could not be parsed, without quoting it: urllib's own words quote the piece
    it read as the port, which for ``https://user:pa/ss@host`` is part of the password."""
    text = str(exc)
    if "port" in text.lower():
        return "its port is not a number (percent-encode '/', '?' and '#' in a password)"
    if "IPv6" in text:
        return "unbalanced brackets in its host"
    return "it cannot be parsed"


def _redact(url: str) -> str:
    """Logs get scheme, host, port and path: never userinfo or the query (it may hold keys)."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        return f"{parts.scheme}://{netloc}{parts.path}"[:300]
    except ValueError:
        return "<invalid url>"
