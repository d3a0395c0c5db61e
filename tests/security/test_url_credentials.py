"""Credentials inside configured URLs (``http://user:token@host``, ``?api_key=...``: hosted
MCP servers and agents often take their key that way) stay out of everything the gateway
shows: the admin API (which a viewer key reads), ``GET /a2a`` (which any key reads) and the
log. Connections still use the URL as configured: the MCP server behind a ``?token=`` URL is
reached and its tools served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.mcp_gateway.conftest import start_upstream, wait_states
from tests.support.procs import Proc, free_port, start_gateway
from tests.support.wait import until

pytestmark = pytest.mark.timeout(120)

MASTER = "mcp-master-test-key-0123456789"  # wait_states reads with the MCP tests' master key
ADMIN = {"authorization": f"Bearer {MASTER}"}
SECRETS = ("ProvPass1", "ProvQuery1", "McpQuery1", "McpPass1", "AgentPass1", "AgentQuery1")


@pytest.fixture(scope="module")
def alpha() -> Iterator[Proc]:
    proc = start_upstream("alpha", "streamable-http")
    yield proc
    proc.stop()


def test_credentials_in_urls_are_never_shown(alpha: Proc, tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"
    config = {
        "providers": {
            "oa": {
                "type": "openai-compatible",
                "base_url": f"http://user:ProvPass1@{closed}/v1?api_key=ProvQuery1",
                "api_keys": ["provider-key-0123456789"],
            }
        },
        "models": {"gpt-test": {"deployments": [{"provider": "oa", "model": "up"}]}},
        "mcp_servers": {
            "alpha": {"url": f"{alpha.url}/mcp?token=McpQuery1"},
            "beta": {"url": f"http://x:McpPass1@{closed}/mcp?token=McpQuery1"},
        },
        "agents": {"ag": {"url": f"http://y:AgentPass1@{closed}/?k=AgentQuery1"}},
        "outbound": {"allow": ["127.0.0.1/32"]},
    }
    gw = start_gateway(config, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        wait_states(gw, {"alpha": "up", "beta": "down"})
        viewer = httpx.post(
            gw.url + "/admin/keys", headers=ADMIN, json={"scopes": ["viewer"]}, timeout=10
        ).json()["key"]
        shown: dict[str, str] = {}
        for path in ("/admin/config", "/admin/health", "/admin/mcp/servers", "/admin/agents"):
            got = httpx.get(gw.url + path, headers={"authorization": f"Bearer {viewer}"})
            assert got.status_code == 200, (path, got.text)
            shown[path] = got.text
        shown["/a2a"] = httpx.get(gw.url + "/a2a", headers=ADMIN, timeout=30).text
        assert "ag" in shown["/a2a"] and "AgentPass1" not in shown["/a2a"]
        # Still recognisable: the host, the path and the query's names.
        assert f"http://***@{closed}/v1?api_key=***" in shown["/admin/config"]
        assert f"{alpha.url}/mcp?token=***" in shown["/admin/mcp/servers"]
        assert "http://***@" in shown["/admin/agents"]
        until(lambda: "mcp server up" in gw.output())
        shown["log"] = gw.output()
        for where, text in shown.items():
            assert not [s for s in SECRETS if s in text], (where, text)
        # The configured URL is what the gateway connects to: alpha's tools are served.
        tools = httpx.get(gw.url + "/admin/mcp/tools", headers=ADMIN, timeout=10).json()
        assert any(t["server"] == "alpha" for t in tools["tools"])
    finally:
        gw.stop()


def test_a_stored_providers_credentials_are_never_listed(tmp_path: Path) -> None:
    """A provider added through the admin API lists its settings to any viewer key: its
    static headers (where ``Authorization`` and ``x-api-key`` go), the credentials in its URLs
    and its OAuth client secret stay out of that list, as its ``api_keys`` always did."""
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": "ab" * 32}
    gw = start_gateway(
        {"providers": {}, "models": {}, "outbound": {"allow": ["127.0.0.1/32"]}}, tmp_path, env=env
    )
    secrets = (
        "hdr-secret-value-0001",
        "hdr-secret-value-0002",
        "BaseQuery0003",
        "oauth-client-secret-0005",
        "api-key-secret-value-0006",
    )
    provider = {
        "name": "stored",
        "type": "openai-compatible",
        "base_url": f"http://127.0.0.1:{free_port()}/v1?key={secrets[2]}",
        "api_keys": [secrets[4]],
        "headers": {"authorization": f"Bearer {secrets[0]}", "x-api-key": secrets[1]},
    }
    try:
        made = httpx.post(gw.url + "/admin/providers", headers=ADMIN, json=provider, timeout=30)
        assert made.status_code == 201, made.text
        oauth = {
            "name": "signed",
            "type": "openai-compatible",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "auth": "oauth",
            "oauth": {
                "token_url": f"http://127.0.0.1:{free_port()}/token",
                "client_id": "turnout",
                "client_secret": secrets[3],
            },
        }
        made = httpx.post(gw.url + "/admin/providers", headers=ADMIN, json=oauth, timeout=30)
        assert made.status_code == 201, made.text
        viewer = httpx.post(
            gw.url + "/admin/keys", headers=ADMIN, json={"scopes": ["viewer"]}, timeout=10
        ).json()["key"]
        reader = {"authorization": f"Bearer {viewer}"}
        listed = httpx.get(gw.url + "/admin/providers", headers=reader, timeout=10)
        one = httpx.get(gw.url + "/admin/providers/stored", headers=reader, timeout=10)
        assert listed.status_code == 200 and one.status_code == 200, (listed.text, one.text)
        for text in (listed.text, one.text, gw.output()):
            assert not [s for s in secrets if s in text], text
        shown = one.json()
        assert set(shown["headers"]) == {"authorization", "x-api-key"}  # names stay
        assert shown["base_url"].endswith("/v1?key=***")
    finally:
        gw.stop()
