"""A batch's results counted exactly once, however they are read: two reads at the same time
(one gateway on SQLite or in memory, and two replicas sharing PostgreSQL), and a client that
leaves in the middle of the relay. Through gateway processes, the official ``anthropic`` SDK
as the client and a scripted upstream whose results stream stays open after its lines (so
that two reads are provably both in flight when they end, and a client can leave mid-relay).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.contract.pg import asyncpg_url, fresh_database
from tests.support.procs import Proc, replica_pair, scripted_requests, start_gateway, start_scripted
from tests.support.wait import until
from tests.unit.cache.redis_support import drop_prefix, shared_redis

MASTER = "sy-master-batch-accounting-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
PRICE = {"input": 1.0, "output": 2.0}
BATCH = "msgbatch_held01"
RESULTS = f"/v1/messages/batches/{BATCH}/results"
USAGE = [(11, 3), (7, 5), (2, 13)]  # each result line's input and output tokens
HUGE = "msgbatch_huge01"  # 25 lines of 100 million input tokens: 2.5 billion in all


def _batch(batch_id: str = BATCH) -> str:
    counts = {"processing": 0, "succeeded": 3, "errored": 0, "canceled": 0, "expired": 0}
    return json.dumps(
        {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended",
            "request_counts": counts,
            "created_at": "2026-12-07T00:00:00Z",
            "expires_at": "2026-12-08T00:00:00Z",
            "ended_at": "2026-12-07T00:01:00Z",
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": f"https://upstream.invalid/{batch_id}/results",
        }
    )


def _line(i: int, inp: int, out: int) -> str:
    message = {
        "id": f"msg_{i}",
        "type": "message",
        "role": "assistant",
        "model": "claude-up",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": inp, "output_tokens": out},
    }
    return json.dumps({"custom_id": f"r{i}", "result": {"type": "succeeded", "message": message}})


def _message() -> str:
    return json.dumps(
        {
            "id": "msg_x",
            "type": "message",
            "role": "assistant",
            "model": "claude-up",
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    )


def script() -> dict[str, Any]:
    lines = "".join(_line(i, inp, out) + "\n" for i, (inp, out) in enumerate(USAGE))
    # The SDK reads 64 bytes at a time: a last line of more than that lets every line above
    # reach it while the stream is still open.
    error = {"type": "error", "error": {"type": "api_error", "message": "p" * 80}}
    lines += json.dumps({"custom_id": "pad", "result": {"type": "errored", "error": error}})
    lines += "\n"
    return {
        "POST /v1/messages/batches": {"chunks": [_batch()]},
        f"GET /v1/messages/batches/{BATCH}": {"chunks": [_batch()]},
        # Every line, then the stream stays open until the gateway closes it.
        f"GET {RESULTS}": {"type": "application/x-jsonl", "chunks": [lines], "hold": True},
        "claude-up": {"chunks": [_message()]},
        f"GET /v1/messages/batches/{HUGE}": {"chunks": [_batch(HUGE)]},
        f"GET /v1/messages/batches/{HUGE}/results": {
            "type": "application/x-jsonl",
            "chunks": [_line(i, 100_000_000, 1) + "\n" for i in range(25)],
        },
    }


def config(upstream: Proc, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {
            "an": {
                "type": "anthropic",
                "base_url": upstream.url,
                "api_keys": ["sk-up-held"],
                "forward_headers": ["x-scripted-*"],
            }
        },
        "models": {"claude": {"deployments": [{"provider": "an", "model": "claude-up"}]}},
        "pricing": {"models": {"claude": PRICE}},
        **extra,
    }


def new_key(gw: Proc, **body: Any) -> tuple[str, str]:
    resp = httpx.post(gw.url + "/admin/keys", json={"name": "batches", **body}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()["key"], resp.json()["id"]


def client(gw: Proc, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0, timeout=30.0)


REQUEST: Any = {
    "custom_id": "r0",
    "params": {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
}


def logged(gw: Proc, key_id: str, operation: str) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {"key": key_id, "operation": operation, "limit": 500}
    got = httpx.get(gw.url + "/admin/logs", params=params, headers=ADMIN)
    assert got.status_code == 200, got.text
    rows: list[dict[str, Any]] = got.json()["rows"]
    return rows


def usage_rows(gw: Proc, key_id: str) -> list[dict[str, Any]]:
    return logged(gw, key_id, "batches.usage")


def results_rows(gw: Proc, key_id: str) -> list[dict[str, Any]]:
    return logged(gw, key_id, "batches.results")


def known(gw: Proc, key: str) -> bool:
    """The replica has loaded the key (made on the other one)."""
    resp = httpx.get(gw.url + "/v1/messages/batches", headers={"x-api-key": key})
    return resp.status_code == 200


def closed_reads(upstream: Proc) -> int:
    return sum(1 for r in scripted_requests(upstream) if r["path"] == RESULTS and r["closed"])


ONE_READ = (sum(i for i, _ in USAGE), sum(o for _, o in USAGE))


def summed(rows: list[dict[str, Any]]) -> tuple[int, int]:
    return sum(r["input_tokens"] for r in rows), sum(r["output_tokens"] for r in rows)


def read_all_lines(c: anthropic.Anthropic) -> Any:
    """A results read that has had every line and is still open (the upstream holds it)."""
    decoder = c.messages.batches.results(BATCH)
    lines = iter(decoder)
    got = [next(lines).custom_id for _ in USAGE]
    assert got == ["r0", "r1", "r2"]
    return decoder


@pytest.fixture(params=["sqlite", "memory"])
def one_gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Proc, Proc]]:
    upstream = start_scripted(script(), tmp_path)
    storage = {"flush_interval": 0.05}
    if request.param == "memory":
        storage["url"] = "memory://"  # type: ignore[assignment]
    gw = start_gateway(
        config(upstream, storage=storage), tmp_path, env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield gw, upstream
    gw.stop()
    upstream.stop()


def test_two_reads_at_the_same_time_count_the_lines_once(one_gateway: tuple[Proc, Proc]) -> None:
    gw, _ = one_gateway
    key, key_id = new_key(gw)
    c = client(gw, key)
    assert c.messages.batches.create(requests=[REQUEST]).id == BATCH
    first, second = read_all_lines(c), read_all_lines(c)  # both in flight, both had every line
    first.close()
    second.close()
    until(lambda: len(results_rows(gw, key_id)) == 2)  # both ended: their usage rows are in
    assert summed(usage_rows(gw, key_id)) == ONE_READ
    # A third read, alone, counts nothing more.
    read_all_lines(c).close()
    until(lambda: len(results_rows(gw, key_id)) == 3)
    assert summed(usage_rows(gw, key_id)) == ONE_READ


@pytest.fixture
def pg_replicas(tmp_path: Path) -> Iterator[tuple[Proc, Proc, Proc]]:
    upstream = start_scripted(script(), tmp_path)
    with fresh_database("sybatches") as dsn:
        env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_DATABASE_URL": asyncpg_url(dsn)}
        with replica_pair(config(upstream, storage={"flush_interval": 0.05}), tmp_path, env) as (
            a,
            b,
        ):
            yield a, b, upstream
    upstream.stop()


def test_two_replicas_reading_at_the_same_time_count_the_lines_once(
    pg_replicas: tuple[Proc, Proc, Proc],
) -> None:
    a, b, _ = pg_replicas
    key, key_id = new_key(a)
    until(lambda: known(b, key), 5.0)
    assert client(a, key).messages.batches.create(requests=[REQUEST]).id == BATCH
    on_a, on_b = read_all_lines(client(a, key)), read_all_lines(client(b, key))
    on_a.close()
    on_b.close()
    until(lambda: len(results_rows(a, key_id)) == 2)  # both replicas: one database
    assert summed(usage_rows(a, key_id)) == ONE_READ


@pytest.fixture(params=["memory", "redis"])
def limited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Proc, Proc]]:
    upstream = start_scripted(script(), tmp_path)
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    limits: dict[str, Any] = {}
    if request.param == "redis":
        limits = {"backend": "redis", "redis_url": shared_redis(), "key_prefix": prefix}
    cfg = config(upstream, storage={"flush_interval": 0.05}, limits=limits)
    gw = start_gateway(cfg, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER})
    yield gw, upstream
    gw.stop()
    upstream.stop()
    if request.param == "redis":
        drop_prefix(prefix)


def ask(c: anthropic.Anthropic) -> Any:
    try:
        return c.messages.create(
            model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    except anthropic.APIStatusError as exc:
        return exc


def test_a_client_leaving_mid_relay_frees_its_slot_and_is_charged_once(
    limited: tuple[Proc, Proc],
) -> None:
    """A key with ``max_parallel: 1`` (and a budget, so reading results takes a ticket): while
    the read runs, the key's next call is refused; once its client has left, the next call is
    admitted at once (not one lease later), the upstream's stream is closed (not left to the
    garbage collector), and the lines relayed before the cut are charged once."""
    gw, upstream = limited
    key, key_id = new_key(gw, max_parallel=1, budget=10.0, budget_period="day")
    c = client(gw, key)
    assert c.messages.batches.create(requests=[REQUEST]).id == BATCH
    reading = read_all_lines(c)
    refused = ask(c)
    assert isinstance(refused, anthropic.RateLimitError), refused  # the read holds the slot
    reading.close()  # the client leaves mid-relay
    until(lambda: len(results_rows(gw, key_id)) == 1)
    admitted = ask(c)
    assert not isinstance(admitted, Exception), admitted
    until(lambda: closed_reads(upstream) == 1)
    assert summed(usage_rows(gw, key_id)) == ONE_READ
    # Read and left again: relayed, charged nothing more, the slot freed again.
    read_all_lines(c).close()
    until(lambda: len(results_rows(gw, key_id)) == 2)
    assert not isinstance(ask(c), Exception)
    until(lambda: closed_reads(upstream) == 2)
    assert summed(usage_rows(gw, key_id)) == ONE_READ


def test_a_read_past_the_log_columns_is_logged_whole_on_postgresql(
    pg_replicas: tuple[Proc, Proc, Proc],
) -> None:
    """2.5 billion input tokens for one model in one read: before, one row past PostgreSQL's
    32-bit token columns, refused with the writer's batch (no usage row, no results row)."""
    a, _, _ = pg_replicas
    key, key_id = new_key(a)
    answer = {"chunks": [_batch(HUGE)]}
    header = {"x-scripted-answer": base64.b64encode(json.dumps(answer).encode()).decode()}
    c = client(a, key)
    assert c.messages.batches.create(requests=[REQUEST], extra_headers=header).id == HUGE
    assert len(list(c.messages.batches.results(HUGE))) == 25
    until(lambda: len(results_rows(a, key_id)) == 1)
    rows = usage_rows(a, key_id)
    assert sum(r["input_tokens"] for r in rows) == 2_500_000_000
    assert all(r["input_tokens"] < 2**31 for r in rows)
    full = (2_500_000_000 * PRICE["input"] + 25 * PRICE["output"]) / 1e6
    assert sum(r["cost"] for r in rows) == pytest.approx(full / 2)  # every row priced
