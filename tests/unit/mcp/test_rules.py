"""The MCP gateway's pure parts: namespacing, allow lists, tool_rpm, cursors, the config."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from turnout.limits.memory import MemoryLimiter
from turnout.mcp import names
from turnout.mcp.access import Access, Layer
from turnout.mcp.config import McpServerConfig, valid_server_name
from turnout.mcp.gate import base_url
from turnout.mcp.limits import ToolLimiter


@pytest.mark.parametrize(
    ("server", "name"),
    [("github", "search"), ("a", "b__c"), ("files-2", "read__"), ("x", "__lead")],
)
def test_namespaced_names_split_back_into_server_and_name(server: str, name: str) -> None:
    assert names.split(names.join(server, name)) == (server, name)
    uri = f"file:///srv/{name}+x"
    assert names.split_uri(names.join_uri(server, uri)) == (server, uri)


def test_two_servers_never_make_the_same_name() -> None:
    # Server names hold neither "__" nor "+": the first separator is always the server's.
    assert not valid_server_name("a__b") and not valid_server_name("a+b")
    assert not valid_server_name("Upper") and not valid_server_name("-x")
    assert valid_server_name("github-2")
    assert names.split("a__b__c") == ("a", "b__c")  # "a__b" cannot be a server
    assert names.split("nosep") is None and names.split("__x") is None


def test_layers_read_metadata_and_ignore_wrong_types() -> None:
    layer = Layer.of({"mcp": {"servers": ["g*"], "allow": ["g__*", 3], "tool_rpm": 5}})
    assert layer.servers == ("g*",) and layer.allow == ("g__*",) and layer.tool_rpm == 5
    for bad in (None, {}, {"mcp": "all"}, {"mcp": {"tool_rpm": True}}, {"mcp": {"allow": "x"}}):
        assert Layer.of(bad) == Layer() or Layer.of(bad).tool_rpm is None


def test_key_and_team_must_both_allow_and_deny_wins() -> None:
    access = Access(
        key_id="k1",
        team="t",
        key=Layer(servers=("github",), allow=("github__*",), deny=("*__delete_*",)),
        team_layer=Layer(deny=("github__admin",), tool_rpm=10),
    )
    assert access.item("github", "github__search")
    assert not access.item("github", "github__delete_repo")  # the key's deny
    assert not access.item("github", "github__admin")  # the team's deny
    assert not access.item("files", "files__read")  # server not allowed
    assert not access.server("files")
    assert access.limits() == [("t:t", 10)]


async def test_tool_rpm_counts_over_a_sliding_minute() -> None:
    now = [0.0]
    memory = MemoryLimiter(clock=lambda: now[0])
    limiter = ToolLimiter(lambda: memory)
    limits = [("k:a", 2), ("t:x", 3)]

    async def at(t: float, which: list[tuple[str, int]]) -> str | None:
        now[0] = t
        return await limiter.admit(which, "t:x")

    assert await at(0.0, limits) is None
    assert await at(1.0, limits) is None
    refused = await at(2.0, limits)
    assert refused is not None and "key" in refused and "2 per minute" in refused
    assert await at(3.0, [("k:b", 5), ("t:x", 3)]) is None  # team: third call
    refused = await at(4.0, [("k:b", 5), ("t:x", 3)])
    assert refused is not None and "team" in refused  # team spent
    assert await at(61.5, limits) is None  # the first two left the window
    assert await at(0.0, []) is None
    # Tool calls have counters of their own: the key's model requests are untouched.
    assert set(memory.requests) == {"mcp:k:a", "mcp:t:x", "mcp:k:b"}


def test_server_config_needs_the_right_endpoint() -> None:
    McpServerConfig(url="http://x/mcp")
    McpServerConfig(transport="stdio", command=["srv"])
    for bad in (
        {},
        {"transport": "stdio"},
        {"transport": "stdio", "command": ["x"], "url": "http://x"},
        {"url": "http://x", "command": ["x"]},
        {"url": "http://x", "auth": {"type": "bearer"}},
        {"url": "http://x", "auth": {"type": "oauth_client_credentials", "client_id": "a"}},
        {"url": "http://x", "surprise": 1},
    ):
        with pytest.raises(ValidationError):
            McpServerConfig.model_validate(bad)
    cfg = McpServerConfig(url="http://a/mcp", urls=["http://b/mcp", "http://a/mcp"])
    assert cfg.endpoints() == ["http://a/mcp", "http://b/mcp"]


def test_the_metadata_origin_ignores_a_hostile_host_header() -> None:
    def scope(host: bytes) -> dict[str, object]:
        return {"headers": [(b"host", host)], "scheme": "http", "server": ("127.0.0.1", 4141)}

    assert base_url(scope(b"gw.example.com:8080")) == "http://gw.example.com:8080"
    assert base_url(scope(b"[::1]:4141")) == "http://[::1]:4141"
    for hostile in (b'evil" x="', b"a b", b"", b"x/y"):
        assert base_url(scope(hostile)) == "http://127.0.0.1:4141"


def test_list_changes_reach_only_the_streams_that_see_the_server() -> None:
    from mcp.shared.subscriptions import PromptsListChanged, ToolsListChanged
    from mcp_types import SubscriptionFilter

    from turnout.mcp.subscriptions import Subscriptions

    subs = Subscriptions()
    heard: dict[str, list[object]] = {"all": [], "gamma": [], "path": [], "prompts": []}
    tools = SubscriptionFilter(tools_list_changed=True)
    gamma_only = Access(key_id="k", key=Layer(servers=("gamma",)))
    subs.lists["all"] = (None, Access(), tools, heard["all"].append)
    subs.lists["gamma"] = (None, gamma_only, tools, heard["gamma"].append)
    subs.lists["path"] = ("gamma", Access(), tools, heard["path"].append)
    only_prompts = SubscriptionFilter(prompts_list_changed=True)
    subs.lists["prompts"] = (None, Access(), only_prompts, heard["prompts"].append)
    subs.lists_changed("alpha", ToolsListChanged())
    assert heard == {"all": [ToolsListChanged()], "gamma": [], "path": [], "prompts": []}
    subs.lists_changed("gamma", PromptsListChanged())
    assert heard["prompts"] == [PromptsListChanged()] and heard["gamma"] == []
