"""The outbound policy against real processes: a gateway whose providers point at hostile
destinations (names answered by a DNS server process of the test's own), a name that rebinds
from an allowlisted address to a refused one, upstream redirects, and the redirect-following
fetch helper. Every destination that could be reached is on 127.0.0.0/8; the refused ones
are refused before any connection is made."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.lineproc import LineProc
from tests.support.procs import Proc, free_port, start_gateway
from tests.unit.outbound.hostile import HOSTILE, ZONE
from turnout.errors import OutboundRefused
from turnout.outbound import Origin, OutboundPolicy, OutboundSettings
from turnout.outbound.fetch import fetch

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
HTTP_ONLY = [(u, r) for u, r in HOSTILE if u.startswith("http://")]


def start_dns(tmp: Path, zone: dict[str, list[list[str]]]) -> tuple[LineProc, int]:
    port = free_port()
    path = tmp / f"zone-{port}.json"
    path.write_text(json.dumps(zone))
    cmd = [sys.executable, "-m", "tests.support.dns_stub", "--port", str(port), "--zone", str(path)]
    return LineProc(cmd, "ready", cwd=Path(__file__).parents[2]), port


def start_mock_on(host: str, port: int) -> Proc:
    cmd = [sys.executable, "-m", "turnout.mock", "--host", host, "--port", str(port)]
    proc = Proc.__new__(Proc)
    line = LineProc(cmd, "", timeout=5)  # readiness: below, over HTTP
    proc.popen, proc.log, proc.port, proc.url = line.popen, line.log, port, f"http://{host}:{port}"
    proc._wait_ready("/v1/models")
    return proc


def chats(mock: Proc) -> int:
    """Chat requests the mock received (its readiness probes are not counted)."""
    data: dict[str, Any] = httpx.get(f"{mock.url}/_mock/stats").json()
    return int(data["by_path"].get("/v1/chat/completions", 0))


@pytest.fixture(scope="module")
def dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LineProc, int]]:
    proc, port = start_dns(tmp_path_factory.mktemp("dns"), ZONE)
    yield proc, port
    proc.stop()


def test_every_hostile_provider_url_is_refused_with_its_rule(
    dns: tuple[LineProc, int], tmp_path: Path
) -> None:
    _, dns_port = dns
    providers = {
        f"p{i}": {"type": "openai-compatible", "base_url": url, "api_keys": ["sk-x"]}
        for i, (url, _) in enumerate(HTTP_ONLY)
    }
    models = {f"m{i}": {"deployments": [{"provider": f"p{i}"}]} for i in range(len(HTTP_ONLY))}
    config = {
        "providers": providers,
        "models": models,
        "outbound": {"check_config": True, "nameservers": [f"127.0.0.1:{dns_port}"]},
        "storage": {"enabled": False},
    }
    gw = start_gateway(config, tmp_path)
    try:
        with httpx.Client(base_url=gw.url, timeout=30) as client:
            for i, (url, rule) in enumerate(HTTP_ONLY):
                r = client.post("/v1/chat/completions", json={**CHAT, "model": f"m{i}"})
                assert r.status_code == 403, (url, r.text)
                err = r.json()["error"]
                assert err["code"] == "outbound_refused", url
                assert f"({rule})" in err["message"], (url, err["message"])
        assert gw.output().count("outbound connection refused") >= len(HTTP_ONLY)
    finally:
        gw.stop()


def test_a_config_destination_on_loopback_is_trusted_by_default(mock: Proc, tmp_path: Path) -> None:
    config = {
        "providers": {
            "local": {
                "type": "openai-compatible",
                "base_url": f"{mock.url}/v1",
                "api_keys": ["none"],
            }
        },
        "models": {"*": {"deployments": [{"provider": "local"}]}},
        "storage": {"enabled": False},
    }
    gw = start_gateway(config, tmp_path)
    try:
        r = httpx.post(f"{gw.url}/v1/chat/completions", json={**CHAT, "model": "x"}, timeout=30)
        assert r.status_code == 200, r.text
    finally:
        gw.stop()


def test_non_http_schemes_are_refused_when_the_config_is_loaded(tmp_path: Path) -> None:
    import subprocess

    others = [url for url, _ in HOSTILE if not url.startswith("http://")]
    assert others
    path = tmp_path / "c.yaml"
    providers = {
        f"p{i}": {"type": "openai-compatible", "base_url": url, "api_keys": ["k"]}
        for i, url in enumerate(others)
    }
    path.write_text(json.dumps({"providers": providers}))
    out = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "check", "-c", str(path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    for i in range(len(others)):
        assert f"providers.p{i}.base_url: must start with http:// or https://" in (
            out.stdout + out.stderr
        ), others[i]


@pytest.fixture
def pair_port() -> int:
    return free_port()


def test_a_rebinding_name_connects_only_to_the_address_that_was_checked(
    tmp_path: Path, pair_port: int
) -> None:
    """rebind.test answers 127.0.0.2 (allowlisted) to the first lookup and 127.0.0.3 (not
    allowlisted) to every later one. The first connection goes to .2, the address that was
    checked; a second connection looks the name up again and is refused; .3 is never reached."""
    dns, dns_port = start_dns(tmp_path, {"rebind.test": [["127.0.0.2"], ["127.0.0.3"]]})
    good = start_mock_on("127.0.0.2", pair_port)
    bad = start_mock_on("127.0.0.3", pair_port)
    config = {
        "providers": {
            "p": {
                "type": "openai-compatible",
                "base_url": f"http://rebind.test:{pair_port}/v1",
                "api_keys": ["sk-x"],
                "forward_headers": ["x-mock-*"],
            }
        },
        "models": {"*": {"deployments": [{"provider": "p"}]}},
        "outbound": {
            "check_config": True,
            "allow": ["127.0.0.2/32"],
            "nameservers": [f"127.0.0.1:{dns_port}"],
        },
        "storage": {"enabled": False},
    }
    gw = start_gateway(config, tmp_path)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=gw.url, timeout=30) as client:
            slow = {**CHAT, "model": "m", "stream": True}
            async with client.stream(
                "POST",
                "/v1/chat/completions",
                json=slow,
                headers={"x-mock-chunk-ms": "100", "x-mock-tokens": "10"},
            ) as first:
                assert first.status_code == 200
                # the first connection is busy: the second request needs a new one
                second = await client.post("/v1/chat/completions", json={**CHAT, "model": "m"})
                assert second.status_code == 403, second.text
                assert "127.0.0.3" in second.json()["error"]["message"]
                assert "(loopback)" in second.json()["error"]["message"]
                body = b"".join([c async for c in first.aiter_bytes()])
                assert b"[DONE]" in body

    try:
        asyncio.run(main())
        assert chats(good) == 1
        assert chats(bad) == 0
        assert dns.count("query rebind.test A\n") == 2  # one lookup per new connection
    finally:
        for p in (gw, good, bad):
            p.stop()
        dns.stop()


def test_an_upstream_redirect_to_a_private_address_is_not_followed(
    tmp_path: Path, pair_port: int
) -> None:
    redirector_port = free_port()
    target = start_mock_on("127.0.0.3", pair_port)
    redirector = LineProc(
        [
            sys.executable,
            "-m",
            "tests.support.redirector",
            "--host",
            "127.0.0.2",
            "--port",
            str(redirector_port),
            "--to",
            f"http://127.0.0.3:{pair_port}",
        ],
        "ready",
        cwd=Path(__file__).parents[2],
    )
    config = {
        "providers": {
            "p": {
                "type": "openai-compatible",
                "api_keys": ["sk-x"],
                "base_url": f"http://127.0.0.2:{redirector_port}/v1",
            }
        },
        "models": {"*": {"deployments": [{"provider": "p"}]}},
        "outbound": {"check_config": True, "allow": ["127.0.0.2"]},
        "storage": {"enabled": False},
    }
    gw = start_gateway(config, tmp_path)
    try:
        r = httpx.post(f"{gw.url}/v1/chat/completions", json={**CHAT, "model": "m"}, timeout=30)
        # Never followed by the gateway, nor handed to the client to follow: the upstream's
        # failure (docs/security.md, "An upstream's redirect").
        assert r.status_code == 502 and "location" not in r.headers
        assert "redirect" in r.json()["error"]["message"]
        assert redirector.count("request POST /v1/chat/completions") == 1
        assert chats(target) == 0
    finally:
        gw.stop()
        target.stop()
        redirector.stop()


@pytest.fixture
def redirector() -> Iterator[tuple[LineProc, int]]:
    port = free_port()
    proc = LineProc(
        [
            sys.executable,
            "-m",
            "tests.support.redirector",
            "--host",
            "127.0.0.2",
            "--port",
            str(port),
        ],
        "ready",
        cwd=Path(__file__).parents[2],
    )
    yield proc, port
    proc.stop()


@pytest.mark.parametrize(
    ("to", "rule"),
    [
        ("http://127.0.0.3:1/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::1]/", "loopback"),
        ("http://0x7f000001/", "odd-spelling"),
        ("http://10.0.0.1/", "private"),
        ("file:///etc/passwd", "scheme"),
    ],
)
async def test_fetch_checks_every_redirect_hop(
    redirector: tuple[LineProc, int], to: str, rule: str
) -> None:
    proc, port = redirector
    policy = OutboundPolicy(OutboundSettings.build(("127.0.0.2/32",)))
    with pytest.raises(OutboundRefused) as info:
        await fetch(policy, f"http://127.0.0.2:{port}/to?url={to}", origin=Origin.CALLER)
    assert info.value.rule == rule
    assert proc.count("request GET /to") == 1


async def test_fetch_follows_allowed_redirects_and_caps_the_body(
    redirector: tuple[LineProc, int],
) -> None:
    from turnout.errors import PayloadTooLarge

    _, port = redirector
    policy = OutboundPolicy(OutboundSettings.build(("127.0.0.2/32",)))
    base = f"http://127.0.0.2:{port}"
    got = await fetch(policy, f"{base}/to?url={base}/ok", origin=Origin.CALLER)
    assert (got.status, got.body, got.url) == (200, b"ok", f"{base}/ok")
    with pytest.raises(PayloadTooLarge):
        await fetch(policy, f"{base}/big", origin=Origin.CALLER, max_bytes=100_000)
    with pytest.raises(OutboundRefused, match="loopback"):  # not allowlisted: refused up front
        await fetch(OutboundPolicy(), f"{base}/ok", origin=Origin.CALLER)
