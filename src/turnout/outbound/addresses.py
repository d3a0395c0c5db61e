"""Which IP addresses and host spellings an outbound connection may not reach, and why.

Every refusal names a rule, so an operator reading "refused: private (10.0.0.0/8)" knows what
to allowlist if the destination is really theirs. The address classes follow the IANA special-
purpose registries; anything outside IPv4 public space or IPv6 global unicast (2000::/3) is
refused, and IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo)
are refused outright rather than unpacked, since each unpacking is one more place to be wrong.

Host spellings are read the way browsers and curl read them (WHATWG URL): a host whose last
label is numeric is an IPv4 address, so ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and
``127.1`` all mean 127.0.0.1. Only the canonical dotted quad is accepted; every other numeric
spelling is refused as ambiguous instead of being decoded.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Cloud instance-metadata endpoints get their own rule name: they are the classic SSRF prize.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.123",  # AWS time sync
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "fd00:ec2::254",  # AWS IPv6
        "fd00:ec2::23",  # AWS IPv6 DNS
    )
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)

# (network, rule) in the order they are tested; the first match names the refusal.
_RULES_V4: tuple[tuple[_V4, str], ...] = tuple(
    (_V4(net), rule)
    for net, rule in (
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "cgnat"),
        ("169.254.0.0/16", "link-local"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking"),
        ("192.88.99.0/24", "reserved"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),  # includes 255.255.255.255
    )
)
_RULES_V6: tuple[tuple[_V6, str], ...] = tuple(
    (_V6(net), rule)
    for net, rule in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "ipv4-mapped"),
        ("::ffff:0:0:0/96", "ipv4-mapped"),  # the SIIT "translated" form
        ("::/96", "ipv4-compatible"),
        ("64:ff9b::/96", "nat64"),
        ("64:ff9b:1::/48", "nat64"),
        ("2002::/16", "6to4"),
        ("2001::/32", "teredo"),
        ("2001:db8::/32", "documentation"),
        ("2001:2::/48", "benchmarking"),
        ("2001:10::/28", "reserved"),
        ("2001:20::/28", "reserved"),
        ("100::/64", "reserved"),
        ("fc00::/7", "private"),  # unique local
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
_GLOBAL_V6 = _V6("2000::/3")


def refusal(ip: IPAddress) -> str | None:
    """The rule that refuses ``ip``, or None for a public address."""
    if ip in METADATA:
        return "metadata"
    if isinstance(ip, ipaddress.IPv4Address):
        for net4, rule in _RULES_V4:
            if ip in net4:
                return rule
        return None
    if ip.scope_id:
        return "scoped"
    for net6, rule in _RULES_V6:
        if ip in net6:
            return rule
    if ip not in _GLOBAL_V6:
        return "reserved"
    return None


class HostError(ValueError):
    """A host spelling that is refused before any lookup; ``rule`` names why."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Host:
    """A parsed URL host: ``name`` in canonical form (lower-case ASCII, IP in its standard
    spelling), ``ip`` set when the host is an address literal."""

    name: str
    ip: IPAddress | None


_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def parse_host(raw: str) -> Host:
    """Canonical form of a URL's host (as :func:`urllib.parse.urlsplit` gives ``hostname``).

    Raises :class:`HostError` for hosts that are empty, percent-encoded, not a valid DNS name,
    or an IPv4 address in any spelling but the canonical dotted quad.
    """
    if not raw:
        raise HostError("no-host", "the URL has no host")
    if "%" in raw and ":" not in raw:
        raise HostError("odd-spelling", f"percent-encoded host {raw!r}")
    if ":" in raw:  # IPv6 literal (urlsplit has removed the brackets)
        try:
            ip6 = ipaddress.IPv6Address(raw)
        except ValueError:
            raise HostError("odd-spelling", f"invalid IPv6 address {raw!r}") from None
        return Host(str(ip6), ip6)
    host = raw
    if not host.isascii():
        try:  # IDNA (with nameprep: full-width digits and dots become ASCII ones)
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise HostError("odd-spelling", f"host {raw!r} is not a valid IDNA name") from None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if labels and _NUMERIC_LABEL.match(labels[-1]):
        # WHATWG: a host ending in a number is an IPv4 address, whatever it looks like.
        try:
            ip4 = ipaddress.IPv4Address(host)  # strict: four decimal parts, no leading zeros
        except ValueError:
            raise HostError(
                "odd-spelling", f"{raw!r} is an IPv4 address in a non-canonical spelling"
            ) from None
        return Host(str(ip4), ip4)
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise HostError("odd-spelling", f"{raw!r} is not a valid host name")
    return Host(host, None)


def name_refusal(name: str) -> str | None:
    """Rules on names alone: names that always mean this machine or the metadata service."""
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    if name in METADATA_NAMES:
        return "metadata"
    return None
