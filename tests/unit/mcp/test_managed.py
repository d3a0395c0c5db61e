"""MCP servers as stored entries of the admin API (turnout.mcp.managed): what is sealed apart,
what is refused, what the outbound policy checks, and how the merge treats them."""

from __future__ import annotations

from turnout.config.schema import TurnoutConfig
from turnout.live.managed import kind_of, merge
from turnout.live.store import Entry


def test_the_mcp_kind_is_registered_and_unknown_kinds_are_left_alone() -> None:
    kind = kind_of("mcp_server")
    assert kind is not None and kind.section == "mcp_servers"
    assert kind_of("not-a-kind") is None
    base = TurnoutConfig.model_validate({"mcp_servers": {"files": {"url": "http://a/mcp"}}})
    entries = [
        Entry("mcp_server", "late", {"url": "https://late.example.com/mcp"}),
        Entry("mcp_server", "files", {"url": "https://other.example.com/mcp"}),
        Entry("from-a-newer-version", "x", {"anything": 1}),
    ]
    data, sources = merge(base, entries, None)
    assert data["mcp_servers"]["late"] == {"url": "https://late.example.com/mcp"}
    assert data["mcp_servers"]["files"] == {"url": "http://a/mcp"}  # the file wins
    assert sources.database["mcp_servers"] == ["late"]
    assert sources.shadowed["mcp_servers"] == ["files"]
    assert "from-a-newer-version" not in data


def test_credentials_are_split_off_and_joined_back() -> None:
    kind = kind_of("mcp_server")
    assert kind is not None and kind.split is not None and kind.join is not None
    body = {
        "url": "https://a.example.com/mcp",
        "urls": ["https://b.example.com/mcp"],
        "headers": {"x-api-key": "secret-1"},
        "auth": {"type": "bearer", "token": "secret-2"},
    }
    secrets = kind.split(body)
    assert body == {"url": "https://a.example.com/mcp", "urls": ["https://b.example.com/mcp"]}
    assert len(secrets) == 1 and "secret-1" in secrets[0] and "secret-2" in secrets[0]
    assert kind.destinations(body) == [
        ("url", "https://a.example.com/mcp"),
        ("urls[0]", "https://b.example.com/mcp"),
    ]
    kind.join(body, secrets)
    assert body["auth"] == {"type": "bearer", "token": "secret-2"}
    assert body["headers"] == {"x-api-key": "secret-1"}
    assert kind.split({"url": "https://a.example.com/mcp", "headers": {}}) == []


def test_stdio_is_never_stored() -> None:
    kind = kind_of("mcp_server")
    assert kind is not None
    assert kind.refuse("evil", {"transport": "stdio", "command": ["id"]})
    assert kind.refuse("evil", {"command": ["id"]})
    assert kind.refuse("fine", {"url": "https://a.example.com/mcp"}) == []
