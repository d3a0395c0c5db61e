"""The gateway's upstream client against real processes: providers reached through a real
forward proxy (proxy.py) from the environment or per provider, NO_PROXY honoured, an HTTPS
provider behind a private CA and one that requires a client certificate, and a provider that
takes a request and drops the connection: the request reaches it once."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.certs import TestCA
from tests.support.lineproc import LineProc
from tests.support.procs import Proc, free_port, start_gateway

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


class ForwardProxy:
    """proxy.py on a free port; its access log says which requests went through it."""

    def __init__(self, *extra: str) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--num-workers", "1", "--num-acceptors", "1", *extra]
        self.proc = LineProc(cmd, "Loaded plugin")
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, self.proc.output()
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def saw(self, needle: str) -> int:
        """Access-log lines with ``needle`` (proxy.py writes one when a connection closes)."""
        return sum(
            1 for line in self.proc.output().splitlines() if "access_log" in line and needle in line
        )

    def wait_for(self, needle: str, count: int = 1) -> None:
        deadline = time.monotonic() + 10
        while self.saw(needle) < count:
            assert time.monotonic() < deadline, self.proc.output()[-3000:]
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.stop()


def start_tls_mock(ca: TestCA, client_ca: Path | None = None) -> tuple[LineProc, int]:
    leaf = ca.server("localhost", "127.0.0.1")
    port = free_port()
    cmd = [sys.executable, "-m", "turnout.mock", "--port", str(port)]
    cmd += ["--tls-cert", str(leaf.cert), "--tls-key", str(leaf.key)]
    if client_ca is not None:
        cmd += ["--tls-client-ca", str(client_ca)]
    return LineProc(cmd, "listening on https://"), port


def provider(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "openai-compatible", "base_url": url, "api_keys": ["sk-x"], **extra}


def gateway(tmp: Path, providers: dict[str, Any], env: dict[str, str] | None = None) -> Proc:
    config = {
        "providers": providers,
        "models": {name: {"deployments": [{"provider": name}]} for name in providers},
        "storage": {"enabled": False},
    }
    return start_gateway(config, tmp, env={"NO_PROXY": "", "no_proxy": "", **(env or {})})


def chat(gw: Proc, model: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/chat/completions", json={**CHAT, "model": model}, headers=headers, timeout=30
    )


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def fwd() -> Iterator[ForwardProxy]:
    p = ForwardProxy()
    yield p
    p.stop()


def test_http_proxy_from_the_environment_and_no_proxy(
    mock: Proc, fwd: ForwardProxy, tmp_path: Path
) -> None:
    """127.0.0.1 goes through the proxy; the same mock named ``localhost`` is in NO_PROXY."""
    port = mock.port
    gw = gateway(
        tmp_path,
        {
            "via": provider(f"http://127.0.0.1:{port}/v1"),
            "direct": provider(f"http://localhost:{port}/v1"),
            "pinned": provider(f"http://127.0.0.1:{port}/v1", proxy="none"),
        },
        env={"HTTP_PROXY": fwd.url, "NO_PROXY": "localhost"},
    )
    try:
        assert chat(gw, "via").status_code == 200
        assert chat(gw, "direct").status_code == 200
        assert chat(gw, "pinned").status_code == 200  # proxy: none beats the environment
    finally:
        gw.stop()  # closes its connections: the proxy logs them
    fwd.wait_for(f"127.0.0.1:{port}")
    assert fwd.saw(f"localhost:{port}") == 0
    assert fwd.saw(f"127.0.0.1:{port}") == 1  # one connection: "via" only


def test_https_through_a_connect_tunnel_with_a_private_ca(
    ca: TestCA, fwd: ForwardProxy, tmp_path: Path
) -> None:
    mock, port = start_tls_mock(ca)
    gw = gateway(
        tmp_path,
        {
            "tunnelled": provider(f"https://localhost:{port}/v1", tls={"ca_file": str(ca.cert)}),
            "untrusted": provider(f"https://localhost:{port}/v1"),
        },
        env={"HTTPS_PROXY": fwd.url},
    )
    try:
        r = chat(gw, "tunnelled")
        assert r.status_code == 200, r.text
        r = chat(gw, "untrusted")  # the system's CA bundle does not know the private CA
        assert r.status_code == 502 and "TLS" in r.json()["error"]["message"]
    finally:
        gw.stop()
        mock.stop()
    fwd.wait_for(f"CONNECT localhost:{port}", 2)


def test_a_per_provider_proxy_with_credentials(mock: Proc, tmp_path: Path) -> None:
    guarded = ForwardProxy("--basic-auth", "gw:s3cret")
    try:
        gw = gateway(
            tmp_path,
            {
                "good": provider(
                    f"{mock.url}/v1", proxy=f"http://gw:s3cret@127.0.0.1:{guarded.port}"
                ),
                "bad": provider(
                    f"{mock.url}/v1", proxy=f"http://gw:wrong@127.0.0.1:{guarded.port}"
                ),
            },
        )
        try:
            assert chat(gw, "good").status_code == 200
            assert chat(gw, "bad").status_code != 200  # the proxy's 407 reaches nobody upstream
            assert "s3cret" not in gw.output()
        finally:
            gw.stop()
        guarded.wait_for(f"POST 127.0.0.1:{mock.port}")
    finally:
        guarded.stop()


def test_mutual_tls(ca: TestCA, tmp_path: Path) -> None:
    mock, port = start_tls_mock(ca, client_ca=ca.cert)
    pair = ca.client("turnout-gateway")
    url = f"https://localhost:{port}/v1"
    gw = gateway(
        tmp_path,
        {
            "mtls": provider(
                url,
                tls={
                    "ca_file": str(ca.cert),
                    "cert_file": str(pair.cert),
                    "key_file": str(pair.key),
                },
            ),
            "anonymous": provider(url, tls={"ca_file": str(ca.cert)}),
        },
    )
    try:
        assert chat(gw, "mtls").status_code == 200
        assert chat(gw, "anonymous").status_code == 502
    finally:
        gw.stop()
        mock.stop()


def test_a_request_the_provider_accepted_is_not_sent_again(mock: Proc, tmp_path: Path) -> None:
    """The provider reads the request, then drops the connection without a byte of answer.
    The connection had served a request before (keep-alive), which is where a pooled client
    would retry: the gateway must not, and says 502 instead."""
    gw = gateway(tmp_path, {"p": provider(f"{mock.url}/v1", forward_headers=["x-mock-*"])})
    try:
        assert chat(gw, "p").status_code == 200  # a warm, reused connection for the next one
        before = httpx.get(f"{mock.url}/_mock/stats").json()["by_path"]["/v1/chat/completions"]
        r = chat(gw, "p", **{"x-mock-fault": "disconnect", "x-request-id": "once-only"})
        assert r.status_code == 502, r.text
        after = httpx.get(f"{mock.url}/_mock/stats").json()["by_path"]["/v1/chat/completions"]
        assert after - before == 1  # counted on the provider's side: exactly one delivery
    finally:
        gw.stop()
