"""Providers, models and deployments through the admin API: stored in the database, validated
as the whole config they make, applied live here and on every replica sharing the database.
Judged by the OpenAI SDK against real processes (docs/configuration.md#providers-and-models-
through-the-admin-api)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.contract.pg import asyncpg_url, fresh_database
from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

MASTER = "live-master-test-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _config(mock: Proc, **extra: Any) -> dict[str, Any]:
    return {
        "outbound": {"allow": ["127.0.0.1/32"]},  # the mock, for providers of the admin API
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-file": {"deployments": [{"provider": "mock", "model": "from-file"}]}},
        **extra,
    }


def _upstream(mock: Proc) -> dict[str, Any]:
    return {
        "type": "openai-compatible",
        "base_url": f"{mock.url}/v1",
        "api_keys": ["sk-db-01234567"],
    }


def admin(gw: Proc, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers=ADMIN, timeout=30, **kw)


def served_by(gw: Proc, model: str, key: str = MASTER) -> str | None:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
    try:
        raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    except openai.NotFoundError:
        return None
    return raw.headers.get("x-turnout-deployment")


@pytest.fixture
def gw(mock: Proc, tmp_path: Path) -> Iterator[Proc]:
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": secrets.token_hex(32)}
    proc = start_gateway(_config(mock), tmp_path, "--no-watch", env=env, ready_within=60)
    yield proc
    proc.stop()


def test_a_model_added_through_the_api_serves_at_once(gw: Proc, mock: Proc) -> None:
    created = admin(gw, "PUT", "/admin/providers/up", json=_upstream(mock))
    assert created.status_code == 201, created.text
    assert created.json()["result"] == "reloaded"
    model = {"deployments": [{"provider": "up", "model": "from-db"}]}
    assert admin(gw, "PUT", "/admin/models/db-model", json=model).status_code == 201
    assert served_by(gw, "db-model") == "up/from-db"
    assert served_by(gw, "gpt-file") == "mock/from-file"  # the file's models serve on
    # A deployment added, then removed.
    extra = {"provider": "up", "model": "second", "priority": 1}
    added = admin(gw, "POST", "/admin/models/db-model/deployments", json=extra)
    assert added.status_code == 200, added.text
    assert len(admin(gw, "GET", "/admin/models/db-model").json()["deployments"]) == 2
    assert admin(gw, "DELETE", "/admin/models/db-model/deployments/1").status_code == 200
    assert len(admin(gw, "GET", "/admin/models/db-model").json()["deployments"]) == 1
    # Keys are sealed and never returned.
    listed = admin(gw, "GET", "/admin/providers").text
    assert "sk-db-01234567" not in listed and "…" in listed
    shown = admin(gw, "GET", "/admin/config").json()
    assert "sk-db-01234567" not in str(shown)
    assert shown["live"]["sources"]["database"] == {"providers": ["up"], "models": ["db-model"]}
    assert "file wins" in shown["live"]["sources"]["rule"]
    assert "db-model" in shown["models"]
    # An update without keys keeps them.
    again = {k: v for k, v in _upstream(mock).items() if k != "api_keys"}
    assert admin(gw, "PUT", "/admin/providers/up", json=again).status_code == 200
    assert served_by(gw, "db-model") == "up/from-db"
    # Deleted: gone at once.
    assert admin(gw, "DELETE", "/admin/models/db-model").status_code == 200
    assert served_by(gw, "db-model") is None
    paths = httpx.get(gw.url + "/openapi.json", headers=ADMIN).json()["paths"]
    assert "/admin/providers/{name}" in paths and "/admin/models/{name}/deployments" in paths


def test_every_problem_is_listed_and_nothing_applied(gw: Proc, mock: Proc) -> None:
    before = admin(gw, "GET", "/admin/config").json()["live"]["version"]
    bad = {"deployments": [{"provider": "nowhere", "model": "x"}], "bogus": 1}
    answer = admin(gw, "PUT", "/admin/models/broken", json=bad)
    assert answer.status_code == 422
    problems = "\n".join(answer.json()["problems"])
    assert "nowhere" in problems and "bogus" in problems
    assert admin(gw, "GET", "/admin/models").json()["models"] == []
    assert served_by(gw, "broken") is None
    # A destination the outbound policy refuses (a private address not allowed).
    private = {**_upstream(mock), "base_url": "http://10.1.2.3/v1"}
    refused = admin(gw, "PUT", "/admin/providers/inside", json=private)
    assert refused.status_code == 422 and "outbound" in str(refused.json()["problems"])
    unreadable = admin(gw, "PUT", "/admin/providers/x", json={"type": "openai", "base_url": 5})
    assert unreadable.status_code == 422
    # A name the file defines belongs to the file.
    clash = {"deployments": [{"provider": "mock", "model": "y"}]}
    assert admin(gw, "PUT", "/admin/models/gpt-file", json=clash).status_code == 409
    # A provider still used by a model cannot go.
    assert admin(gw, "PUT", "/admin/providers/up", json=_upstream(mock)).status_code == 201
    used = {"deployments": [{"provider": "up", "model": "z"}]}
    assert admin(gw, "PUT", "/admin/models/uses-up", json=used).status_code == 201
    dangling = admin(gw, "DELETE", "/admin/providers/up")
    assert dangling.status_code == 422 and "up" in str(dangling.json()["problems"])
    assert served_by(gw, "uses-up") == "up/z"
    assert admin(gw, "GET", "/admin/config").json()["live"]["version"] != before


def test_admin_writes_need_the_admin_scope(gw: Proc, mock: Proc) -> None:
    made = admin(gw, "POST", "/admin/keys", json={"name": "plain"})
    assert made.status_code == 201, made.text
    plain = {"authorization": f"Bearer {made.json()['key']}"}
    model = {"deployments": [{"provider": "mock", "model": "m"}]}
    denied = httpx.put(gw.url + "/admin/models/nope", json=model, headers=plain)
    assert denied.status_code == 403
    assert httpx.put(gw.url + "/admin/models/nope", json=model).status_code == 401
    assert admin(gw, "GET", "/admin/models").json()["models"] == []
    scoped = admin(gw, "POST", "/admin/keys", json={"name": "ops", "scopes": ["admin"]})
    assert scoped.status_code == 201, scoped.text
    ops = {"authorization": f"Bearer {scoped.json()['key']}"}
    assert httpx.put(gw.url + "/admin/models/ok", json=model, headers=ops).status_code == 201


@pytest.fixture(params=["sqlite-workers", "postgres"])
def replicas(request: pytest.FixtureRequest, mock: Proc, tmp_path: Path) -> Iterator[list[Proc]]:
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": secrets.token_hex(32)}
    pg = fresh_database("livereplicas") if request.param == "postgres" else nullcontext(None)
    with pg as dsn:
        procs: list[Proc] = []
        try:
            if dsn is not None:
                env["TURNOUT_DATABASE_URL"] = asyncpg_url(dsn)
                for name in ("a", "b"):
                    (tmp_path / name).mkdir()
                    procs.append(start_gateway(_config(mock), tmp_path / name, env=env,
                                               ready_within=60))  # fmt: skip
            else:  # one SQLite file, two worker processes behind one port
                procs.append(start_gateway(_config(mock), tmp_path, "--workers", "2", env=env,
                                           ready_within=60))  # fmt: skip
            yield procs
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.stop()


def test_a_change_on_one_replica_serves_on_the_others(replicas: list[Proc], mock: Proc) -> None:
    writer, readers = replicas[0], replicas[-1:]
    assert admin(writer, "PUT", "/admin/providers/up", json=_upstream(mock)).status_code == 201
    model = {"deployments": [{"provider": "up", "model": "shared"}]}
    assert admin(writer, "PUT", "/admin/models/everywhere", json=model).status_code == 201

    def everywhere(expected: str | None) -> bool:  # ten calls: with workers, both answer
        return all(served_by(r, "everywhere") == expected for r in readers for _ in range(10))

    until(lambda: everywhere("up/shared"), 5.0)
    assert admin(writer, "DELETE", "/admin/models/everywhere").status_code == 200
    until(lambda: everywhere(None), 5.0)
