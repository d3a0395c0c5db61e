"""Agents as stored entries of the admin API (turnout.a2a.managed): what is sealed apart,
what the outbound policy checks, how the merge treats them, and which origin the registry
gives them."""

from __future__ import annotations

from turnout.a2a.config import AgentConfig
from turnout.a2a.registry import Registry
from turnout.config.schema import TurnoutConfig
from turnout.live.managed import kind_of, merge
from turnout.live.store import Entry
from turnout.outbound import Origin


def test_the_agent_kind_is_registered_and_the_file_wins() -> None:
    kind = kind_of("agent")
    assert kind is not None and kind.section == "agents"
    base = TurnoutConfig.model_validate({"agents": {"file": {"url": "http://a.example.com"}}})
    entries = [
        Entry("agent", "late", {"url": "https://late.example.com"}),
        Entry("agent", "file", {"url": "https://other.example.com"}),
    ]
    data, sources = merge(base, entries, None)
    assert data["agents"]["late"] == {"url": "https://late.example.com"}
    assert data["agents"]["file"] == {"url": "http://a.example.com"}
    assert sources.database["agents"] == ["late"]
    assert sources.shadowed["agents"] == ["file"]


def test_credentials_are_split_off_and_joined_back() -> None:
    kind = kind_of("agent")
    assert kind is not None and kind.split is not None and kind.join is not None
    body = {
        "url": "https://a.example.com",
        "rpc_url": "https://a.example.com/rpc",
        "auth": {
            "type": "oauth2",
            "token_url": "https://idp.example.com/token",
            "client_id": "gw",
            "client_secret": "secret-1",
            "token": None,
        },
    }
    secrets = kind.split(body)
    assert body["auth"] == {
        "type": "oauth2",
        "token_url": "https://idp.example.com/token",
        "client_id": "gw",
    }
    assert len(secrets) == 1 and "secret-1" in secrets[0]
    assert kind.destinations(body) == [
        ("url", "https://a.example.com"),
        ("rpc_url", "https://a.example.com/rpc"),
        ("auth.token_url", "https://idp.example.com/token"),
    ]
    kind.join(body, secrets)
    assert body["auth"]["client_secret"] == "secret-1"
    assert kind.split({"url": "https://a.example.com"}) == []
    assert kind.split({"url": "https://a.example.com", "auth": {"type": "none"}}) == []


def test_stored_agents_are_admin_destinations_and_keep_their_cards() -> None:
    registry = Registry()
    one, two = (
        AgentConfig(url="https://one.example.com"),
        AgentConfig(url="https://two.example.com"),
    )
    registry.load({"one": one, "two": two}, frozenset({"two"}))
    assert registry.agents["one"].origin is Origin.CONFIG
    assert registry.agents["two"].origin is Origin.ADMIN
    registry.agents["one"].card = {"name": "one"}
    registry.load({"one": one}, frozenset())
    assert registry.agents["one"].card == {"name": "one"}  # unchanged: the same agent
    assert "two" not in registry.agents  # deleted from the database: gone
