"""The A2A gateway's pure parts: card rewriting, envelopes, events, budgets, push URLs."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from turnout.a2a.card import rewrite, rpc_url_of
from turnout.a2a.events import NO_DATA, SSEScanner, read_response, read_result, state_name
from turnout.a2a.governance import TaskBudget, push_urls
from turnout.a2a.jsonrpc import BudgetSpent, error_body, read_envelope
from turnout.errors import BadRequest, PermissionDenied, UpstreamTimeout

GW = "https://gw.example/a2a/a"


def test_a_modern_card_is_rewritten_to_the_gateway() -> None:
    card: dict[str, Any] = {
        "name": "a",
        "supportedInterfaces": [
            {"url": "http://10.0.0.5/grpc", "protocolBinding": "GRPC"},
            {"url": "http://10.0.0.5/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        ],
        "securitySchemes": {"x": {"apiKeySecurityScheme": {"name": "k"}}},
        "securityRequirements": [{"schemes": {"x": {"list": []}}}],
        "skills": [{"id": "s", "securityRequirements": [{"schemes": {"x": {"list": []}}}]}],
        "signatures": [{"signature": "abc"}],
    }
    assert rpc_url_of(card) == "http://10.0.0.5/rpc"
    out = rewrite(card, GW, secured=True)
    assert out["supportedInterfaces"] == [
        {"url": GW, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    ]
    assert list(out["securitySchemes"]) == ["turnout"]
    assert "signatures" not in out and "securityRequirements" not in out["skills"][0]
    assert "10.0.0.5" not in orjson.dumps(out).decode()
    assert card["supportedInterfaces"][1]["url"] == "http://10.0.0.5/rpc"  # the cache is kept
    assert "securitySchemes" not in rewrite(card, GW, secured=False)


def test_a_legacy_card_is_rewritten_in_its_own_shape() -> None:
    card = {
        "name": "old",
        "url": "http://10.0.0.5/",
        "preferredTransport": "JSONRPC",
        "additionalInterfaces": [{"url": "http://10.0.0.5/", "transport": "JSONRPC"}],
        "securitySchemes": {"x": {"type": "apiKey", "in": "header", "name": "k"}},
        "security": [{"x": []}],
    }
    assert rpc_url_of(card) == "http://10.0.0.5/"
    out = rewrite(card, GW, secured=True)
    assert out["url"] == GW and out["preferredTransport"] == "JSONRPC"
    assert out["additionalInterfaces"] == [{"url": GW, "transport": "JSONRPC"}]
    assert out["securitySchemes"] == {
        "turnout": {
            "type": "http",
            "scheme": "bearer",
            "description": out["securitySchemes"]["turnout"]["description"],
        }
    }
    assert out["security"] == [{"turnout": []}]
    assert "supportedInterfaces" not in out


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{", "Parse error"),
        (b"[]", "batches"),
        (b'{"jsonrpc": "1.0", "method": "x", "id": 1}', "jsonrpc"),
        (b'{"jsonrpc": "2.0", "method": 5, "id": 1}', "method"),
        (b'{"jsonrpc": "2.0", "method": "x", "id": {}}', "id"),
        (b'{"jsonrpc": "2.0", "method": "x", "id": true}', "id"),
        (b'{"jsonrpc": "2.0", "method": "x", "id": 1, "params": []}', "params"),
    ],
)
def test_bad_envelopes_are_refused(body: bytes, error: str) -> None:
    with pytest.raises(BadRequest, match=error):
        read_envelope(body)


def test_envelopes_of_both_versions() -> None:
    env = read_envelope(b'{"jsonrpc": "2.0", "id": "a", "method": "message/stream", "params": {}}')
    assert (env.kind, env.streams, env.label) == ("message", True, "message/stream")
    env = read_envelope(b'{"jsonrpc": "2.0", "id": 3, "method": "SubscribeToTask"}')
    assert (env.kind, env.streams, env.params) == ("task", True, {})
    env = read_envelope(b'{"jsonrpc": "2.0", "id": 3, "method": "x/y' + b"z" * 500 + b'"}')
    assert env.label == "other"  # bounded for logs and metrics


def test_errors_are_jsonrpc() -> None:
    body = orjson.loads(error_body(PermissionDenied("no"), 7))
    assert body == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": -32043,
            "message": "no",
            "data": {"type": "permission_error", "status": 403},
        },
    }
    assert orjson.loads(error_body(UpstreamTimeout("slow"), None))["error"]["code"] == -32054
    spent = orjson.loads(error_body(BudgetSpent("stop"), "x"))["error"]
    assert spent["code"] == -32029 and spent["data"]["type"] == "task_message_budget"


def test_results_of_both_versions() -> None:
    assert state_name("TASK_STATE_INPUT_REQUIRED") == "input-required"
    seen = read_result(
        {"statusUpdate": {"taskId": "t", "status": {"state": "TASK_STATE_COMPLETED"}}}
    )
    assert (seen.task_id, seen.state, seen.final) == ("t", "completed", True)
    seen = read_result({"task": {"id": "t", "status": {"state": "TASK_STATE_WORKING"}}})
    assert (seen.task_id, seen.final) == ("t", False)
    seen = read_result(
        {"kind": "status-update", "taskId": "u", "status": {"state": "working"}, "final": True}
    )
    assert (seen.task_id, seen.final) == ("u", True)
    seen = read_result({"kind": "message", "messageId": "m"})
    assert seen.final and seen.task_id is None
    seen = read_result({"id": "t2", "status": {"state": "canceled"}})  # GetTask's bare Task
    assert (seen.kind, seen.task_id, seen.final) == ("task", "t2", True)
    assert read_response({"jsonrpc": "2.0", "id": 1, "error": {"code": 1}})[1] is True
    assert read_result("nonsense").kind is None


def test_the_sse_scanner_yields_whole_events_as_sent_and_bounds_them() -> None:
    scanner = SSEScanner(max_event=100)
    assert scanner.feed(b'data: {"a"') == []
    assert scanner.pending == b'data: {"a"'  # held back until the event ends
    assert scanner.feed(b": 1}\r\n\r") == []  # a CR at the end may be half of a CRLF
    got = scanner.feed(b"\n: ping\n\ndata: [1]\r\rdata:{bad\n\nevent: x\ndata")
    assert got == [
        (b'data: {"a": 1}\r\n\r\n', {"a": 1}),
        (b": ping\n\n", NO_DATA),
        (b"data: [1]\r\r", [1]),
        (b"data:{bad\n\n", None),
    ]
    assert scanner.pending == b"event: x\ndata"
    with pytest.raises(ValueError, match="exceeds"):
        scanner.feed(b": " + b"x" * 200)


async def test_the_task_budget_counts_and_forgets_the_oldest() -> None:
    budget = TaskBudget(capacity=2)
    await budget.opened("a", "t1")
    await budget.spend("a", "t1", 2)
    with pytest.raises(BudgetSpent):
        await budget.spend("a", "t1", 2)
    await budget.spend("a", "t2", 5)
    await budget.spend("b", "t3", 5)
    assert ("a", "t1") not in budget.counts  # the oldest went first
    assert len(budget.counts) == 2


async def test_the_task_budget_is_shared_through_redis() -> None:
    import uuid

    from tests.unit.cache.redis_support import shared_redis
    from turnout.redisconn import connect

    client = connect(shared_redis(), timeout=1.0)
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    one, two = TaskBudget(redis=client, prefix=prefix), TaskBudget(redis=client, prefix=prefix)
    try:
        await one.opened("a", "t")
        await two.spend("a", "t", 3)  # another replica continues the task
        await one.spend("a", "t", 3)
        with pytest.raises(BudgetSpent):
            await two.spend("a", "t", 3)
        assert not one.counts and not two.counts  # nothing counted locally
        assert await client.get(f"{prefix}a2a:task:a:t") == b"3"
        assert 0 < await client.ttl(f"{prefix}a2a:task:a:t") <= 86_400
    finally:
        await client.delete(f"{prefix}a2a:task:a:t")
        await client.aclose()


async def test_the_task_budget_counts_locally_while_redis_is_down() -> None:
    from tests.unit.cache.redis_support import free_port
    from turnout.redisconn import connect

    client = connect(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)  # nothing listens
    budget = TaskBudget(redis=client)
    try:
        await budget.spend("a", "t", 1)
        with pytest.raises(BudgetSpent):
            await budget.spend("a", "t", 1)
        assert budget.counts[("a", "t")] == 1
    finally:
        await client.aclose()


def test_push_urls_are_found_in_both_versions() -> None:
    modern = {"taskId": "t", "url": "http://a/cb", "token": "x"}
    assert push_urls(modern, inside=True) == ["http://a/cb"]
    legacy = {"taskId": "t", "pushNotificationConfig": {"url": "http://b/cb"}}
    assert push_urls(legacy, inside=True) == ["http://b/cb"]
    message = {
        "message": {"parts": [{"url": "http://not-a-callback/file"}]},
        "configuration": {"taskPushNotificationConfig": {"url": "http://c/cb"}},
    }
    assert push_urls(message) == ["http://c/cb"]  # a file part's url is not a callback


def test_plans_count_the_key_the_team_and_the_agent() -> None:
    from turnout.a2a.config import AgentConfig
    from turnout.a2a.governance import may_call, plan_for
    from turnout.auth.principal import MASTER, Principal
    from turnout.limits.plan import Rule

    cfg = AgentConfig(url="http://a", agent_rpm=5, team_rpm=50, teams=["t"])
    own = Rule("k:key1", "key key1", rpm=100, tpm=1000)
    p = Principal(id="key1", team="t", expires=None, rules=(own,))
    plan = plan_for(p, "ag", cfg)
    assert plan is not None
    assert [(r.scope, r.rpm, r.tpm) for r in plan.rules] == [
        ("k:key1", 100, None),  # the key's own rate; tokens mean nothing to an agent
        ("a:ag:k:key1", 5, None),
        ("a:ag:t:t", 50, None),
    ]
    assert {r.tag for r in plan.rules[1:]} == {"t:t"}  # one Redis slot per caller
    assert plan_for(MASTER, "ag", cfg) is None and plan_for(None, "ag", cfg) is None
    assert may_call(p, "ag", cfg)
    assert not may_call(Principal(id="key2", team="u", expires=None), "ag", cfg)
    assert not may_call(
        Principal(id="key1", team="t", expires=None, key_models=("gpt-*",)), "ag", cfg
    )


def test_the_gateway_url_in_cards_follows_a_proxy_in_front() -> None:
    from turnout.a2a.service import A2AService

    scope = {"scheme": "http", "server": ("10.0.0.1", 4141)}
    assert A2AService.base_url(scope, {b"host": b"gw.test:4141"}) == "http://gw.test:4141"
    behind = {
        b"host": b"10.0.0.1:4141",
        b"x-forwarded-proto": b"https",
        b"x-forwarded-host": b"api.example.com",
    }
    assert A2AService.base_url(scope, behind) == "https://api.example.com"
    odd = {b"host": b"evil.test/path?x", b"x-forwarded-proto": b"gopher"}
    assert A2AService.base_url(scope, odd) == "http://10.0.0.1:4141"
