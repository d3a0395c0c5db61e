"""The outbound policy's rules, one hostile destination at a time (no sockets opened)."""

from __future__ import annotations

import ipaddress

import pytest

from tests.unit.outbound.hostile import HOSTILE, ZONE
from turnout.errors import OutboundRefused
from turnout.outbound import Origin, OutboundPolicy, OutboundSettings
from turnout.outbound.addresses import HostError, IPAddress, parse_host
from turnout.outbound.resolver import ResolveError


class ZoneResolver:
    """Answers from a dict, one answer per successive lookup (the last repeats)."""

    def __init__(self, zone: dict[str, list[list[str]]]) -> None:
        self.zone = zone
        self.asked: dict[str, int] = {}

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        answers = self.zone.get(host)
        if answers is None:
            raise ResolveError(f"cannot resolve {host}: NXDOMAIN")
        n = self.asked.get(host, 0)
        self.asked[host] = n + 1
        return [ipaddress.ip_address(a) for a in answers[min(n, len(answers) - 1)]]


def policy(*allow: str, check_config: bool = False) -> OutboundPolicy:
    return OutboundPolicy(OutboundSettings.build(allow, check_config), ZoneResolver(ZONE))


def test_the_table_is_long_enough() -> None:
    assert len(HOSTILE) >= 40
    assert len({u for u, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize(("url", "rule"), HOSTILE, ids=[u for u, _ in HOSTILE])
@pytest.mark.parametrize("origin", [Origin.ADMIN, Origin.CALLER])
async def test_hostile_destination_is_refused_naming_its_rule(
    url: str, rule: str, origin: Origin
) -> None:
    with pytest.raises(OutboundRefused) as info:
        await policy().check(url, origin)
    assert info.value.rule == rule
    assert f"({rule})" in info.value.message
    assert info.value.status == 403


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "https://public.test/v1",
        "http://93.184.216.34:8080/v1",
        "https://[2606:4700::1111]/v1",
        "https://xn--bcher-kva.example/v1",
    ],
)
async def test_public_destinations_pass(url: str) -> None:
    zone = {**ZONE, "api.openai.com": [["104.18.6.192"]], "xn--bcher-kva.example": [["8.8.8.8"]]}
    p = OutboundPolicy(resolver=ZoneResolver(zone))
    assert await p.check(url, Origin.CALLER)


async def test_config_destinations_are_trusted_unless_the_operator_says_otherwise() -> None:
    assert await policy().check("http://127.0.0.1:8000/v1", Origin.CONFIG) == [
        ipaddress.ip_address("127.0.0.1")
    ]
    assert await policy().check("http://loopback.test:8000/v1", Origin.CONFIG) == [
        ipaddress.ip_address("127.0.0.1")
    ]
    with pytest.raises(OutboundRefused, match="loopback"):
        await policy(check_config=True).check("http://127.0.0.1:8000/v1", Origin.CONFIG)


async def test_the_allowlist_admits_networks_and_host_patterns() -> None:
    p = policy("10.0.0.0/8", "*.private192.test", "private192.test", "fd00::/8")
    assert await p.check("http://10.9.8.7/v1", Origin.ADMIN)
    assert await p.check("http://private10.test/v1", Origin.ADMIN)  # resolves into 10/8
    assert await p.check("http://private192.test/v1", Origin.ADMIN)  # admitted by name
    assert await p.check("http://v6ula.test/v1", Origin.ADMIN)
    with pytest.raises(OutboundRefused, match="loopback"):
        await p.check("http://127.0.0.1/v1", Origin.ADMIN)
    with pytest.raises(OutboundRefused, match="metadata"):
        await p.check("http://169.254.169.254/", Origin.ADMIN)


async def test_a_rebinding_name_is_checked_on_every_lookup() -> None:
    resolver = ZoneResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    p = OutboundPolicy(resolver=resolver)
    assert await p.check("http://rebind.test/", Origin.CALLER)
    with pytest.raises(OutboundRefused, match="loopback"):
        await p.check("http://rebind.test/", Origin.CALLER)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("1.2.3.4", "1.2.3.4"),
        ("2001:DB8::1", "2001:db8::1"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_hosts_are_canonical(raw: str, canonical: str) -> None:
    assert parse_host(raw).name == canonical


@pytest.mark.parametrize("raw", ["", "a..b", "-a.com", "a b.com", "0x7f.1", "1.2.3", "01.2.3.4"])
def test_bad_hosts(raw: str) -> None:
    with pytest.raises(HostError):
        parse_host(raw)
