"""Request rows through real processes: every client protocol x every provider type, stream
and not, on SQLite and on PostgreSQL; the usage report, the log API and the CLI; health state
surviving a restart; storage switched off."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.pg import asyncpg_url, fresh_database
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until

TYPES = ("openai", "anthropic", "gemini")
NATIVE = "native"  # a type: openai provider, to which Responses calls pass through
TOKENS = 7  # x-mock-tokens: every answer is this many output tokens
PRICES = {"input": 2.0, "output": 4.0}


def _config(mock: Proc) -> dict[str, Any]:
    def provider(kind: str, base_url: str) -> dict[str, Any]:
        return {
            "type": kind,
            "base_url": base_url,
            "api_keys": [f"sk-up-{kind}-0001"],
            "forward_headers": ["x-mock-*"],
        }

    return {
        "providers": {
            "openai": provider("openai-compatible", f"{mock.url}/v1"),
            "anthropic": provider("anthropic", mock.url),
            "gemini": provider("gemini", mock.url),
            NATIVE: provider("openai", f"{mock.url}/v1"),  # speaks the Responses API too
        },
        "models": {
            f"{prefix}-{t}": {"deployments": [{"provider": t, "model": f"up-{t}"}]}
            for t in (*TYPES, NATIVE)
            for prefix in ("m", "r")  # r-: the Responses test's own rows
        },
        "pricing": {"models": {f"up-{t}": PRICES for t in (*TYPES, NATIVE)}},
        "storage": {"flush_interval": 0.05},
        "logging": {"requests": False},
    }


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gw(
    request: pytest.FixtureRequest, mock: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp(f"storage-{request.param}")
    if request.param == "sqlite":
        proc = start_gateway(_config(mock), tmp)  # the default: turnout.db in its directory
        yield {"proc": proc, "url": f"sqlite+aiosqlite:///{tmp}/turnout.db", "tmp": tmp}
        proc.stop()
        return
    with fresh_database("systorage") as dsn:
        url = asyncpg_url(dsn)
        proc = start_gateway(_config(mock), tmp, env={"TURNOUT_DATABASE_URL": url})
        yield {"proc": proc, "url": url, "tmp": tmp}
        proc.stop()


def _request(
    client: str, model: str, stream: bool, ask_usage: bool = False
) -> tuple[str, dict[str, Any]]:
    text = [{"role": "user", "content": "hello there, gateway"}]
    if client == "openai":
        body: dict[str, Any] = {"model": model, "messages": text, "stream": stream}
        if ask_usage:
            body["stream_options"] = {"include_usage": True}
        return "/v1/chat/completions", body
    if client == "anthropic":
        return "/v1/messages", {
            "model": model,
            "max_tokens": 100,
            "messages": text,
            "stream": stream,
        }
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    contents = [{"role": "user", "parts": [{"text": "hello there, gateway"}]}]
    return f"/v1beta/models/{model}:{action}", {"contents": contents}


def _send(
    gw: Proc, client: str, model: str, stream: bool, ask_usage: bool = False
) -> tuple[str, bytes]:
    rid = uuid.uuid4().hex
    path, body = _request(client, model, stream, ask_usage)
    headers = {"x-request-id": rid, "x-mock-tokens": str(TOKENS)}
    r = httpx.post(gw.url + path, json=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return rid, r.content


def _row(gw: Proc, rid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        rows = httpx.get(gw.url + "/admin/logs", params={"request_id": rid}).json()["rows"]
        if rows or time.monotonic() > deadline:
            assert len(rows) == 1, rid
            row: dict[str, Any] = rows[0]
            return row
        time.sleep(0.05)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client", TYPES)
def test_rows_and_costs_for_every_protocol_pair(
    gw: dict[str, Any], client: str, stream: bool
) -> None:
    proc = gw["proc"]
    sent = {t: _send(proc, client, f"m-{t}", stream) for t in TYPES}
    baseline = _row(proc, _send(proc, client, f"m-{client}", False)[0])
    for provider, (rid, content) in sent.items():
        row = _row(proc, rid)
        assert row["protocol"] == client and row["stream"] is stream
        assert row["model"] == f"m-{provider}" and row["provider"] == provider
        assert row["deployment"] == f"{provider}/up-{provider}" and row["status"] == 200
        assert row["key_id"] and "sk-" not in json.dumps(row)
        assert row["output_tokens"] == TOKENS, (provider, row)
        assert row["input_tokens"] == baseline["input_tokens"] > 0, (provider, row)
        cost = (row["input_tokens"] * PRICES["input"] + TOKENS * PRICES["output"]) / 1e6
        assert row["cost"] == pytest.approx(cost)
        assert row["latency_ms"] >= row["ttft_ms"] > 0
        if client == "openai" and stream:
            assert b'"usage":{' not in content  # asked upstream, hidden from this client
            assert content.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", (NATIVE, *TYPES))
def test_responses_rows_are_priced_with_reasoning_tokens(
    gw: dict[str, Any], provider: str, stream: bool
) -> None:
    """Responses traffic is logged and priced like the rest: passed through (usage read from
    the relayed bytes) or translated; reasoning tokens counted apart where the upstream
    reports them (Anthropic bills thinking as output without a separate count)."""
    proc = gw["proc"]
    rid = uuid.uuid4().hex
    body = {
        "model": f"r-{provider}",
        "input": "hello there, gateway",
        "reasoning": {"effort": "low"},
        "stream": stream,
    }
    headers = {"x-request-id": rid, "x-mock-tokens": str(TOKENS)}
    r = httpx.post(proc.url + "/v1/responses", json=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    row = _row(proc, rid)
    assert row["protocol"] == "responses" and row["stream"] is stream, row
    assert row["provider"] == provider and row["status"] == 200
    assert row["input_tokens"] > 0
    reasoning = 0 if provider == "anthropic" else 8  # the mock's 8 thinking pieces
    assert row["reasoning_tokens"] == reasoning, row
    assert row["output_tokens"] == TOKENS + 8, row
    cost = (row["input_tokens"] * PRICES["input"] + row["output_tokens"] * PRICES["output"]) / 1e6
    assert row["cost"] == pytest.approx(cost)


def test_an_openai_client_that_asks_for_usage_keeps_its_chunk(gw: dict[str, Any]) -> None:
    rid, content = _send(gw["proc"], "openai", "m-openai", True, ask_usage=True)
    assert b'"usage":{' in content
    assert _row(gw["proc"], rid)["output_tokens"] == TOKENS


def test_usage_report_and_cli_agree(gw: dict[str, Any]) -> None:
    proc = gw["proc"]
    rids = [_send(proc, "openai", "m-gemini", False)[0] for _ in range(3)]
    _row(proc, rids[-1])
    report = httpx.get(proc.url + "/admin/usage", params={"group_by": "model", "from": "1h"}).json()
    groups = {g["group"]: g for g in report["groups"]}
    gemini = groups["m-gemini"]
    assert gemini["requests"] >= 3 and gemini["errors"] == 0 and gemini["unpriced_requests"] == 0
    assert gemini["output_tokens"] == gemini["requests"] * TOKENS
    assert gemini["latency_ms"]["p50"] is not None
    assert report["total"]["requests"] == sum(g["requests"] for g in report["groups"])
    by_day = httpx.get(proc.url + "/admin/usage", params={"group_by": "day"}).json()
    assert by_day["total"]["requests"] == report["total"]["requests"]
    bad = httpx.get(proc.url + "/admin/usage", params={"group_by": "colour"})
    assert bad.status_code == 400
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "turnout.cli.main",
            "usage",
            "--json",
            "--from",
            "1h",
            "--database-url",
            gw["url"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=gw["tmp"],
    )
    assert cli.returncode == 0, cli.stderr
    from_cli = {g["group"]: g["requests"] for g in json.loads(cli.stdout)["groups"]}
    assert from_cli == {g: v["requests"] for g, v in groups.items()}
    table = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "usage", "--url", proc.url, "-g", "provider"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert table.returncode == 0 and "gemini" in table.stdout, table.stderr


def test_failed_requests_are_rows_too(gw: dict[str, Any]) -> None:
    proc = gw["proc"]
    rid = uuid.uuid4().hex
    r = httpx.post(
        proc.url + "/v1/chat/completions",
        headers={"x-request-id": rid, "x-mock-status": "400"},
        json={"model": "m-openai", "messages": []},
    )
    assert r.status_code == 400
    row = _row(proc, rid)
    assert row["status"] == 400 and row["error"] == "bad_request" and row["cost"] is None
    assert row["attempt_log"] == [
        {
            "deployment": "openai/up-openai",
            "key": row["key_id"],
            "status": 400,
            "reason": "bad_request",
            "ms": row["attempt_log"][0]["ms"],
        }
    ]
    missing = uuid.uuid4().hex
    httpx.post(
        proc.url + "/v1/chat/completions",
        headers={"x-request-id": missing},
        json={"model": "no-such-model", "messages": []},
    )
    assert _row(proc, missing)["status"] == 404


def test_health_state_survives_a_restart(mock: Proc, tmp_path: Path) -> None:
    cfg = _config(mock)
    cfg["providers"]["openai"]["headers"] = {"x-mock-status": "401"}  # the key is refused
    first = start_gateway(cfg, tmp_path)
    try:
        r = httpx.post(
            first.url + "/v1/chat/completions",
            json={"model": "m-openai", "messages": [{"role": "user", "content": "x"}]},
        )
        assert r.status_code == 503

        def saved() -> bool:  # the health flush runs every 0.5 s; the kill below skips it
            with contextlib.closing(sqlite3.connect(tmp_path / "turnout.db")) as db:
                records = db.execute("SELECT record FROM health_state WHERE kind = 'key'")
                return any('"invalid"' in record for (record,) in records)

        until(saved)
    finally:
        first.stop()  # SIGKILL: nothing is saved on the way out
    second = start_gateway(cfg, tmp_path)
    try:
        keys = httpx.get(second.url + "/admin/health").json()["keys"]
        [key] = [k for k in keys if k["provider"] == "openai"]
        assert key["state"] == "invalid" and key["retry_in"] > 30
    finally:
        second.stop()


def test_storage_can_be_switched_off(mock: Proc, tmp_path: Path) -> None:
    cfg = _config(mock)
    cfg["storage"] = {"enabled": False}
    proc = start_gateway(cfg, tmp_path)
    try:
        _send(proc, "openai", "m-openai", False)
        assert httpx.get(proc.url + "/admin/usage").status_code == 503
        assert "turnout_requests_total" in httpx.get(proc.url + "/metrics").text
    finally:
        proc.stop()
    assert not (tmp_path / "turnout.db").exists()


def test_a_stream_the_client_abandons_keeps_its_partial_usage(gw: dict[str, Any]) -> None:
    proc = gw["proc"]
    rid = uuid.uuid4().hex
    path, body = _request("anthropic", "m-anthropic", True)
    headers = {"x-request-id": rid, "x-mock-tokens": "50", "x-mock-chunk-ms": "50"}
    with httpx.stream("POST", proc.url + path, json=body, headers=headers, timeout=10) as r:
        next(r.iter_bytes())  # message_start has arrived; then hang up
    row = _row(proc, rid)
    assert row["status"] == 499 and row["error"] == "client_disconnected"
    assert row["input_tokens"] and row["input_tokens"] > 0  # from message_start
    assert row["output_tokens"] < 50
