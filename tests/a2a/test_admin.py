"""``/admin/agents``: agents added, listed, refused and removed live on a running gateway."""

from __future__ import annotations

import httpx
import pytest
import yaml

from tests.a2a.conftest import ADMIN, AGENT_TOKEN, MASTER, admin, gateway_config
from tests.support.procs import Proc, start_gateway


def test_an_agent_added_through_the_api_serves_at_once(
    a2a_gateway: Proc, quick_agent: Proc
) -> None:
    # Loopback is admitted by this gateway's outbound.allow; the API's URL is checked.
    resp = admin(a2a_gateway, "PUT", "/admin/agents/live-one", json={"url": quick_agent.url})
    assert resp.status_code == 201, resp.text  # created (a replacement is 200)
    assert resp.json()["source"] == "admin"
    answer = httpx.post(
        f"{a2a_gateway.url}/a2a/live-one",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": {
                "message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]}
            },
        },
        headers=ADMIN,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    listed = {a["name"]: a for a in admin(a2a_gateway, "GET", "/admin/agents").json()["agents"]}
    assert listed["live-one"]["card"]["fetched"] is True
    assert listed["worker"]["source"] == "config"
    assert listed["worker"]["auth"] == {"type": "bearer"}  # never the token
    assert AGENT_TOKEN not in admin(a2a_gateway, "GET", "/admin/agents").text
    assert admin(a2a_gateway, "DELETE", "/admin/agents/live-one").status_code == 200
    gone = httpx.post(f"{a2a_gateway.url}/a2a/live-one", json={}, headers=ADMIN, timeout=10)
    assert gone.status_code == 404


def test_private_and_metadata_addresses_are_refused(a2a_gateway: Proc) -> None:
    for url in (
        "http://169.254.169.254",
        "http://10.1.2.3:8080",
        "http://[::ffff:169.254.169.254]",
    ):
        resp = admin(a2a_gateway, "PUT", "/admin/agents/sneaky", json={"url": url})
        assert resp.status_code == 403, (url, resp.text)
    oauth = {
        "url": "http://127.0.0.1:9",
        "auth": {
            "type": "oauth2",
            "token_url": "http://169.254.169.254/token",
            "client_id": "c",
            "client_secret": "s",
        },
    }
    assert admin(a2a_gateway, "PUT", "/admin/agents/sneaky", json=oauth).status_code == 403
    listed = admin(a2a_gateway, "GET", "/admin/agents").json()["agents"]
    assert "sneaky" not in {a["name"] for a in listed}


def test_config_agents_and_bad_bodies_are_refused(a2a_gateway: Proc) -> None:
    assert (
        admin(a2a_gateway, "PUT", "/admin/agents/worker", json={"url": "http://127.0.0.1:9"})
    ).status_code == 409
    assert admin(a2a_gateway, "DELETE", "/admin/agents/worker").status_code == 409
    bad = admin(a2a_gateway, "PUT", "/admin/agents/x", json={"url": "ftp://a", "secret": 1})
    assert bad.status_code == 422
    assert admin(a2a_gateway, "PUT", "/admin/agents/..", json={"url": "http://a"}).status_code in (
        400,
        404,
    )


def test_the_registry_needs_an_admin(a2a_gateway: Proc) -> None:
    assert httpx.get(f"{a2a_gateway.url}/admin/agents", timeout=10).status_code == 401


def test_a_card_that_cannot_be_fetched_says_why(a2a_gateway: Proc) -> None:
    card = httpx.get(
        f"{a2a_gateway.url}/a2a/down/.well-known/agent-card.json", headers=ADMIN, timeout=30
    )
    assert card.status_code == 502 and card.json()["error"]["code"] == -32052
    listed = {a["name"]: a for a in admin(a2a_gateway, "GET", "/admin/agents").json()["agents"]}
    assert listed["down"]["card"]["fetched"] is False
    assert "card cannot be fetched" in listed["down"]["card"]["error"]


def test_agents_follow_a_config_reload(
    mock: Proc, quick_agent: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("a2a-reload")
    first = gateway_config(mock, {"one": {"url": quick_agent.url}})
    proc = start_gateway(first, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        assert admin(proc, "PUT", "/admin/agents/added", json={"url": quick_agent.url}).is_success
        second = gateway_config(mock, {"two": {"url": quick_agent.url, "agent_rpm": 7}})
        (tmp / f"turnout-{proc.port}.yaml").write_text(yaml.safe_dump(second))
        answer = admin(proc, "POST", "/admin/config/reload")
        assert answer.status_code == 200, answer.text
        assert "agents" not in (answer.json().get("restart_needed") or [])
        listed = {a["name"]: a for a in admin(proc, "GET", "/admin/agents").json()["agents"]}
        assert set(listed) == {"two", "added"}  # the file's agents replaced, the API's kept
        assert listed["two"]["agent_rpm"] == 7
    finally:
        proc.stop()
