"""Anthropic's Message Batches through a gateway process, judged by the official ``anthropic``
SDK against the mock provider: create, retrieve, list, cancel, results and delete; a batch is
its creating key's (another key gets a 404, the master key sees it); a key refused a model is
refused the batch; a batch no single deployment serves is a 400; results are relayed as
JSON Lines and accounted in the request log (once, at the batch share of the price)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types.messages.batch_create_params import Request

from tests.support.procs import Proc, start_gateway
from tests.support.wait import until
from tests.unit.cache.redis_support import drop_prefix, shared_redis

MASTER = "sy-master-batches-test-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
PRICE = {"input": 1.0, "output": 2.0}  # USD per million tokens


def batches_config(mock: Proc) -> dict[str, Any]:
    return {
        "providers": {
            "an": {"type": "anthropic", "base_url": mock.url, "api_keys": ["sk-up-batches"]},
            # The mock holds this provider's batches in progress (x-mock-ttft-ms: 10 minutes).
            "slow": {
                "type": "anthropic",
                "base_url": mock.url,
                "api_keys": ["sk-slow-batches"],
                "headers": {"x-mock-ttft-ms": "600000"},
            },
            "oa": {"type": "openai", "base_url": mock.url + "/v1", "api_keys": ["sk-oa"]},
            "demo": {"type": "mock"},  # the in-process mock of `serve --demo`
        },
        "models": {
            "claude-a": {"deployments": [{"provider": "an", "model": "claude-a-up"}]},
            "claude-b": {"deployments": [{"provider": "an", "model": "claude-b-up"}]},
            "claude-slow": {"deployments": [{"provider": "slow", "model": "claude-slow-up"}]},
            "gpt-only": {"deployments": [{"provider": "oa", "model": "gpt-up"}]},
            "demo": {"deployments": [{"provider": "demo", "model": "mock-1"}]},
        },
        "pricing": {"models": {"claude-a": PRICE, "claude-b": PRICE, "claude-slow": PRICE}},
        "storage": {"flush_interval": 0.05, "batches_per_key": 2},
    }


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = batches_config(mock)
    proc = start_gateway(
        config, tmp_path_factory.mktemp("batches"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def new_key(gw: Proc, **body: Any) -> tuple[str, str]:
    resp = httpx.post(gw.url + "/admin/keys", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()["key"], resp.json()["id"]


def client(gw: Proc, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)


def request(custom_id: str, model: str, text: str = "hello batch") -> Request:
    return {
        "custom_id": custom_id,
        "params": {
            "model": model,
            "max_tokens": 50,
            "messages": [{"role": "user", "content": text}],
        },
    }


def rows(gw: Proc, rid: str) -> list[dict[str, Any]]:
    got = httpx.get(gw.url + "/admin/logs", params={"request_id": rid}, headers=ADMIN)
    found: list[dict[str, Any]] = got.json()["rows"]
    return found


def ended(c: anthropic.Anthropic, batch_id: str) -> bool:
    return c.messages.batches.retrieve(batch_id).processing_status == "ended"


def test_a_batch_runs_end_to_end_and_its_results_are_accounted_once(gw: Proc) -> None:
    key, _ = new_key(gw, name="batcher")
    c = client(gw, key)
    batch = c.messages.batches.create(
        requests=[request("one", "claude-a"), request("two", "claude-b"), request("x", "claude-a")]
    )
    assert batch.id.startswith("msgbatch_") and batch.type == "message_batch"
    until(lambda: ended(c, batch.id))
    got = c.messages.batches.retrieve(batch.id)
    assert got.request_counts.succeeded == 3
    assert got.results_url == f"/v1/messages/batches/{batch.id}/results"  # the gateway's
    assert batch.id in [b.id for b in c.messages.batches.list()]

    raw = c.messages.batches.with_raw_response.results(batch.id)
    rid = raw.headers["x-request-id"]
    results = {r.custom_id: r for r in raw.parse()}
    assert set(results) == {"one", "two", "x"}
    assert all(r.result.type == "succeeded" for r in results.values())
    one = results["one"].result
    assert one.type == "succeeded" and one.message.model == "claude-a-up"  # renamed upstream

    def usage_rows() -> list[dict[str, Any]]:
        return [r for r in rows(gw, rid) if r["operation"] == "batches.usage"]

    until(lambda: len(usage_rows()) == 2)
    by_model = {r["model"]: r for r in usage_rows()}
    a = by_model["claude-a"]
    assert a["output_tokens"] > 0 and a["input_tokens"] > 0
    full = (a["input_tokens"] * PRICE["input"] + a["output_tokens"] * PRICE["output"]) / 1e6
    assert a["cost"] == pytest.approx(full / 2)  # the batch share of the price
    assert a["deployment"] == "an/claude-a-up"

    # Read again: relayed whole, counted no more.
    again = c.messages.batches.with_raw_response.results(batch.id)
    assert len(list(again.parse())) == 3
    rid2 = again.headers["x-request-id"]
    until(lambda: any(r["operation"] == "batches.results" for r in rows(gw, rid2)))
    assert not [r for r in rows(gw, rid2) if r["operation"] == "batches.usage"]

    deleted = c.messages.batches.delete(batch.id)
    assert deleted.id == batch.id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        c.messages.batches.retrieve(batch.id)


def test_a_batch_belongs_to_the_key_that_made_it(gw: Proc) -> None:
    mine, _ = new_key(gw, name="owner")
    theirs, _ = new_key(gw, name="other")
    batch = client(gw, mine).messages.batches.create(requests=[request("a", "claude-a")])
    other = client(gw, theirs)
    for attempt in (
        lambda: other.messages.batches.retrieve(batch.id),
        lambda: other.messages.batches.cancel(batch.id),
        lambda: other.messages.batches.delete(batch.id),
    ):
        with pytest.raises(anthropic.NotFoundError) as caught:
            attempt()
        assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    resp = httpx.get(
        f"{gw.url}/v1/messages/batches/{batch.id}/results",
        headers={"x-api-key": theirs},
    )
    assert resp.status_code == 404 and resp.json()["type"] == "error"
    assert batch.id not in [b.id for b in other.messages.batches.list()]
    # The master key sees every batch.
    assert client(gw, MASTER).messages.batches.retrieve(batch.id).id == batch.id


def test_a_batch_in_progress_is_cancelled_at_its_deployment(gw: Proc) -> None:
    key, _ = new_key(gw, name="canceller")
    c = client(gw, key)
    batch = c.messages.batches.create(requests=[request("s", "claude-slow")])
    assert batch.processing_status == "in_progress"
    with pytest.raises(anthropic.BadRequestError):  # the upstream's 400, relayed
        c.messages.batches.delete(batch.id)
    cancelled = c.messages.batches.cancel(batch.id)
    assert cancelled.processing_status == "canceling"
    until(lambda: ended(c, batch.id))
    assert [r.result.type for r in c.messages.batches.results(batch.id)] == ["canceled"]


def test_a_key_without_the_model_is_refused_the_batch(gw: Proc) -> None:
    key, _ = new_key(gw, name="narrow", models=["claude-a"])
    c = client(gw, key)
    with pytest.raises(anthropic.PermissionDeniedError):
        c.messages.batches.create(requests=[request("a", "claude-a"), request("b", "claude-b")])
    assert c.messages.batches.list().data == []


def test_a_batch_no_single_deployment_serves_is_refused(gw: Proc) -> None:
    c = client(gw, MASTER)
    for models in (["claude-a", "claude-slow"], ["gpt-only"], ["no-such-model"]):
        with pytest.raises(anthropic.BadRequestError) as caught:
            c.messages.batches.create(requests=[request(m, m) for m in models])
        assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/messages/batches/..%2F..%2Fv1%2Fmessages",
        "/v1/messages/batches/msgbatch_x%3Fa=1",
        "/v1/messages/batches/" + "a" * 300,
    ],
)
def test_a_hostile_id_never_reaches_an_upstream(gw: Proc, path: str) -> None:
    resp = httpx.get(gw.url + path, headers={"x-api-key": MASTER})
    assert resp.status_code == 404 and resp.json()["error"]["type"] == "not_found_error"


@pytest.mark.parametrize(
    "body",
    [b"[]", b"{}", b'{"requests": []}', b'{"requests": [1]}', b'{"requests": [{"params": 3}]}'],
)
def test_a_malformed_batch_is_a_400(gw: Proc, body: bytes) -> None:
    resp = httpx.post(gw.url + "/v1/messages/batches", content=body, headers={"x-api-key": MASTER})
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"


@pytest.fixture(scope="module")
def gw_redis(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """Budgets on the shared (Redis) limiter."""
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    config = batches_config(mock)
    config["limits"] = {"backend": "redis", "redis_url": shared_redis(), "key_prefix": prefix}
    tmp = tmp_path_factory.mktemp("batches-redis")
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()
    drop_prefix(prefix)


@pytest.fixture
def fixtures(request: pytest.FixtureRequest) -> pytest.FixtureRequest:
    return request


@pytest.mark.parametrize("limiter", ["memory", "redis"])
def test_results_settle_the_key_budget_and_a_spent_budget_refuses_the_next_batch(
    limiter: str, fixtures: pytest.FixtureRequest
) -> None:
    gw: Proc = fixtures.getfixturevalue("gw" if limiter == "memory" else "gw_redis")
    key, key_id = new_key(gw, name="budgeted", budget=0.000001, budget_period="day")
    c = client(gw, key)
    batch = c.messages.batches.create(requests=[request("a", "claude-a")])
    until(lambda: ended(c, batch.id))
    raw = c.messages.batches.with_raw_response.results(batch.id)
    assert [r.custom_id for r in raw.parse()] == ["a"]
    rid = raw.headers["x-request-id"]
    until(lambda: any(r["operation"] == "batches.usage" for r in rows(gw, rid)))
    (used,) = [r for r in rows(gw, rid) if r["operation"] == "batches.usage"]

    def spent() -> float:
        shown = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()
        return float(shown["spend"]["spent"])

    until(lambda: spent() > 0)
    assert spent() == pytest.approx(used["cost"], abs=1e-6)  # shown rounded
    with pytest.raises(anthropic.RateLimitError) as caught:
        c.messages.batches.create(requests=[request("b", "claude-a")])
    assert "Budget exhausted" in caught.value.message


def test_the_in_process_mock_serves_batches_too(gw: Proc) -> None:
    c = client(gw, MASTER)
    batch = c.messages.batches.create(requests=[request("d", "demo", "hi demo")])
    until(lambda: ended(c, batch.id))
    (result,) = list(c.messages.batches.results(batch.id))
    assert result.custom_id == "d" and result.result.type == "succeeded"
    assert result.result.message.model == "mock-1" and result.result.message.content
    assert c.messages.batches.delete(batch.id).id == batch.id


def test_a_key_holds_at_most_batches_per_key(gw: Proc) -> None:
    key, _ = new_key(gw, name="hoarder")
    c = client(gw, key)
    first, _second = (c.messages.batches.create(requests=[request("a", "claude-a")]) for _ in "12")
    with pytest.raises(anthropic.RateLimitError) as caught:
        c.messages.batches.create(requests=[request("a", "claude-a")])
    assert caught.value.response.headers["x-should-retry"] == "false"  # deleting helps, not time
    until(lambda: ended(c, first.id))
    c.messages.batches.delete(first.id)
    assert c.messages.batches.create(requests=[request("a", "claude-a")]).id


def test_a_listing_pages_through_the_keys_batches_newest_first(gw: Proc) -> None:
    key, _ = new_key(gw, name="pager")
    c = client(gw, key)
    older = c.messages.batches.create(requests=[request("a", "claude-a")])
    newer = c.messages.batches.create(requests=[request("b", "claude-b")])
    page = c.messages.batches.list(limit=1)
    assert [b.id for b in page.data] == [newer.id] and page.has_more
    assert [b.id for b in page] == [newer.id, older.id]  # the SDK follows after_id
    back = c.messages.batches.list(before_id=older.id, limit=5)
    assert [b.id for b in back.data] == [newer.id]


def test_a_request_without_a_key_is_refused_in_anthropics_shape(gw: Proc) -> None:
    resp = httpx.get(gw.url + "/v1/messages/batches")
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "authentication_error"
