"""The registry's card cache: fetched once per ttl, the last good card kept through failed
refreshes, a failed first fetch remembered for a while instead of retried on every call."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from turnout.a2a import registry
from turnout.a2a.config import AgentConfig
from turnout.a2a.registry import Agent
from turnout.errors import UpstreamUnavailable
from turnout.outbound import Origin, OutboundPolicy
from turnout.outbound.fetch import Fetched

CARD = {
    "name": "a",
    "supportedInterfaces": [
        {"url": "http://agent.test/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    ],
}


class FakeFetch:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.card: dict[str, Any] = CARD

    async def __call__(self, policy: OutboundPolicy, url: str, **kw: Any) -> Fetched:
        self.calls += 1
        if self.fail:
            raise UpstreamUnavailable("down")
        return Fetched(200, [], orjson.dumps(self.card), url)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeFetch:
    f = FakeFetch()
    monkeypatch.setattr(registry, "fetch", f)
    return f


async def test_a_card_is_cached_and_names_the_rpc_url(fake: FakeFetch) -> None:
    agent = Agent("a", AgentConfig(url="http://agent.test"), Origin.CONFIG)
    policy = OutboundPolicy()
    assert (await agent.ensure_card(policy))["name"] == "a"
    await agent.ensure_card(policy)
    assert fake.calls == 1
    assert agent.rpc_url == "http://agent.test/rpc" and agent.rpc_origin is Origin.CONFIG


@pytest.mark.parametrize(
    ("named", "used"),
    [
        ("http://other.test/rpc", "http://agent.test:8080/rpc"),
        ("https://public.example/a2a/v1?x=1", "http://agent.test:8080/a2a/v1?x=1"),
        ("http://other.test", "http://agent.test:8080/"),
        ("http://other.test:99999/rpc", "http://agent.test:8080/rpc"),  # a port out of range
        ("http://other.test/r pc", "http://agent.test:8080"),  # unusable: the configured URL
    ],
)
async def test_an_rpc_url_on_another_origin_keeps_the_configured_host(
    fake: FakeFetch, named: str, used: str
) -> None:
    fake.card = {**CARD, "supportedInterfaces": [{"url": named, "protocolBinding": "JSONRPC"}]}
    agent = Agent("a", AgentConfig(url="http://agent.test:8080"), Origin.CONFIG)
    await agent.ensure_card(OutboundPolicy())
    assert agent.rpc_url == used and agent.rpc_origin is Origin.CONFIG


async def test_failures_keep_the_old_card_or_are_remembered(fake: FakeFetch) -> None:
    policy = OutboundPolicy()
    agent = Agent("a", AgentConfig(url="http://agent.test", card_ttl=1), Origin.CONFIG)
    await agent.ensure_card(policy)
    agent.fetched = float("-inf")  # stale
    fake.fail = True
    assert (await agent.ensure_card(policy))["name"] == "a"  # the last good card
    dead = Agent("b", AgentConfig(url="http://dead.test"), Origin.CONFIG)
    calls = fake.calls
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            await dead.ensure_card(policy)
    assert fake.calls == calls + 1  # one try, then the failure is remembered
    dead.forget_failure()
    fake.fail = False
    assert (await dead.ensure_card(policy))["name"] == "a"
