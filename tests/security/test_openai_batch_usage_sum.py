"""An OpenAI batch output whose usage sums past the request log's 32-bit token columns.

Each line's count is bounded (:data:`turnout.ir.response.MAX_TOKENS`), but a file's lines are
summed per model into one row: 50,000 lines of 100k-token prompts (or a hostile upstream's
25 lines of 100M) make a row PostgreSQL refuses, which stops the request log for every call.
The gateway is on PostgreSQL; the upstream is the scripted one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import openai
import pytest

from tests.contract.pg import asyncpg_url, fresh_database
from tests.support.procs import Proc, start_gateway, start_scripted
from tests.support.wait import until

pytestmark = pytest.mark.timeout(180)

MASTER = "sy-master-openai-batch-usage-sum-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
CHAT: Final = "/v1/chat/completions"
INT4 = 2**31 - 1  # PostgreSQL's INTEGER: the request log's token columns
LINES = 25
EACH = 100_000_000  # the most one count is believed (turnout.ir.response.MAX_TOKENS)
USAGE = {"prompt_tokens": EACH, "completion_tokens": 3, "total_tokens": EACH + 3}
OUT = {
    "id": "r",
    "custom_id": "a",
    "response": {"status_code": 200, "body": {"model": "gpt-up", "usage": USAGE}},
    "error": None,
}


def _file(file_id: str, purpose: str = "batch") -> str:
    return json.dumps(
        {
            "id": file_id, "object": "file", "bytes": 10, "created_at": 1, "filename": "f.jsonl",
            "purpose": purpose, "status": "processed",
        }
    )  # fmt: skip


def _batch() -> str:
    return json.dumps(
        {
            "id": "batch_big", "object": "batch", "endpoint": CHAT, "input_file_id": "file-in",
            "completion_window": "24h", "status": "completed", "created_at": 1,
            "output_file_id": "file-big", "error_file_id": None,
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with fresh_database("syoaisum") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Proc]:
    tmp = Path(tmp_path_factory.mktemp("oai-sum"))
    script: dict[str, Any] = {
        "POST /v1/files": {"chunks": [_file("file-in")]},
        "POST /v1/batches": {"chunks": [_batch()]},
        "GET /v1/files/file-big": {"chunks": [_file("file-big", "batch_output")]},
        "GET /v1/files/file-big/content": {
            "repeat": {"chunk": json.dumps(OUT) + "\n", "times": LINES}
        },
    }
    upstream = start_scripted(script, tmp)
    config = {
        "providers": {
            "oa": {"type": "openai", "base_url": upstream.url + "/v1", "api_keys": ["sk-x"]}
        },
        "models": {"gpt": {"deployments": [{"provider": "oa", "model": "gpt-up"}]}},
        "pricing": {"models": {"gpt": {"input": 1.0, "output": 2.0}}},
        "storage": {"flush_interval": 0.05, "batch_size": 50},
    }
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_DATABASE_URL": asyncpg_url(database)}
    proc = start_gateway(config, tmp, env=env)
    yield proc
    proc.stop()
    upstream.stop()


async def _stored(dsn: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT request_id, operation, input_tokens, output_tokens, cost FROM request_log"
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def stored(dsn: str) -> list[dict[str, Any]]:
    return asyncio.run(_stored(dsn))


def test_an_output_summing_past_the_columns_is_logged_whole_in_rows_that_fit(
    gw: Proc, database: str
) -> None:
    made_key = httpx.post(
        gw.url + "/admin/keys", json={"budget": 1e6, "budget_period": "day"}, headers=ADMIN
    )
    assert made_key.status_code == 201, made_key.text
    key, key_id = made_key.json()["key"], made_key.json()["id"]
    owner = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
    line = {"custom_id": "a", "method": "POST", "url": CHAT, "body": {"model": "gpt"}}
    made = owner.files.create(file=("f.jsonl", json.dumps(line).encode()), purpose="batch")
    batch = owner.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    assert batch.output_file_id == "file-big"
    c = openai.OpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)
    raw = c.files.with_raw_response.content("file-big")
    assert len(raw.parse().content.splitlines()) == LINES
    rid = raw.headers["x-request-id"]
    after = c.files.with_raw_response.retrieve("file-big").headers["x-request-id"]

    def usage() -> list[dict[str, Any]]:
        return [r for r in stored(database) if r["request_id"] == rid]

    until(lambda: any(r["request_id"] == after for r in stored(database)), 30, step=0.1)
    rows = [r for r in usage() if r["operation"] == "batches.usage"]
    assert all(0 <= r["input_tokens"] <= INT4 for r in rows)
    assert sum(r["input_tokens"] for r in rows) == LINES * EACH  # nothing lost
    assert sum(r["output_tokens"] for r in rows) == LINES * 3
    full = (LINES * EACH * 1.0 + LINES * 3 * 2.0) / 1e6 / 2  # the batch share
    assert sum(r["cost"] for r in rows) == pytest.approx(full)

    def spent() -> float:
        shown = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()
        return float(shown["spend"]["spent"])

    assert spent() == pytest.approx(full)  # every row settled the owner's budget
    metrics = httpx.get(gw.url + "/metrics", headers=ADMIN).text.splitlines()
    assert [float(x.split()[-1]) for x in metrics if x.startswith("turnout_request_log_up ")] == [
        1.0
    ]
