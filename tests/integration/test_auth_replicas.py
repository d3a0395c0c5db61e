"""Keys across processes: two gateways on one database (a shared SQLite file, and PostgreSQL),
and the ``turnout keys`` CLI writing straight into a running gateway's database.

A key made or revoked anywhere must be honoured by every replica within a second.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.contract.pg import asyncpg_url, fresh_database
from tests.integration.test_auth import ADMIN, MASTER, new_key, oa, tenancy_config
from tests.support.procs import Proc, replica_pair, start_gateway
from tests.support.wait import until

MESSAGES: Any = [{"role": "user", "content": "hi"}]
BODY = {"model": "gpt-test", "messages": MESSAGES}


def status(gw: Proc, key: str | None) -> int:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(gw.url + "/v1/chat/completions", json=BODY, headers=headers).status_code


@pytest.fixture(params=["sqlite", "postgres"])
def replicas(
    request: pytest.FixtureRequest, mock: Proc, tmp_path: Path
) -> Iterator[tuple[Proc, Proc]]:
    env = {"TURNOUT_MASTER_KEY": MASTER}
    pg = fresh_database("syreplicas") if request.param == "postgres" else nullcontext(None)
    with pg as dsn:
        if dsn is not None:
            env["TURNOUT_DATABASE_URL"] = asyncpg_url(dsn)
        config = tenancy_config(mock, storage={"url": str(tmp_path / "shared.db")})
        with replica_pair(config, tmp_path, env) as pair:
            yield pair


def test_a_revoke_reaches_every_replica_within_a_second(replicas: tuple[Proc, Proc]) -> None:
    a, b = replicas
    key, key_id = new_key(a)
    until(lambda: status(b, key) == 200, 1.0)
    revoke = httpx.post(f"{a.url}/admin/keys/{key_id}/revoke", headers=ADMIN)
    assert revoke.status_code == 200
    assert status(a, key) == 401  # at once where it was revoked
    until(lambda: status(b, key) == 401, 1.0)  # the other replica, by its next refresh
    # And a limit changed on one replica is enforced by the other.
    other, other_id = new_key(b)
    until(lambda: status(a, other) == 200, 1.0)
    httpx.patch(f"{b.url}/admin/keys/{other_id}", json={"models": ["nothing-*"]}, headers=ADMIN)
    until(lambda: status(a, other) == 403, 1.0)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_key_made_on_one_replica_works_on_the_other_at_once(
    backend: str, mock: Proc, tmp_path: Path
) -> None:
    """Before: the other replica (or ``--workers`` process) knew a new key only from its next
    poll of the key store, so a script that made a key and used it at once got a 401 by
    whichever process its call reached. The poll is 5 s here: only the look-up a key found
    nowhere makes (turnout.auth.catchup) can serve it."""
    env = {"TURNOUT_MASTER_KEY": MASTER}
    pg = fresh_database("sycatchup") if backend == "postgres" else nullcontext(None)
    with pg as dsn:
        if dsn is not None:
            env["TURNOUT_DATABASE_URL"] = asyncpg_url(dsn)
        config = tenancy_config(
            mock, storage={"url": str(tmp_path / "shared.db")}, auth={"refresh_interval": 5}
        )
        with replica_pair(config, tmp_path, env) as (a, b):
            key, _ = new_key(a, models=["gpt-test"])
            client = oa(b, key)
            done = client.chat.completions.create(model="gpt-test", messages=MESSAGES)
            assert done.choices[0].message.content
            assert [m.id for m in oa(b, new_key(a)[0]).models.list()]  # the raw routes too
            with pytest.raises(openai.PermissionDeniedError):  # what the key may use, as made
                client.chat.completions.create(model="gpt-other", messages=MESSAGES)
            with pytest.raises(openai.AuthenticationError):  # a key nobody made: still a 401
                oa(b, "sk-tn-" + "0" * 40).chat.completions.create(
                    model="gpt-test", messages=MESSAGES
                )


def test_a_sign_out_reaches_every_replica(replicas: tuple[Proc, Proc]) -> None:
    """A dashboard session is a signed cookie every replica accepts. Before (2026-12-08) its
    sign-out was kept by the one process that handled it: the same cookie, copied, went on
    working on the other replica (and workers) until it expired, twelve hours later."""
    a, b = replicas
    signed = httpx.post(a.url + "/admin/session", json={"key": MASTER})
    assert signed.status_code == 200, signed.text
    cookie = signed.headers["set-cookie"].split(";", 1)[0]
    on_b = {"cookie": cookie}
    assert httpx.get(b.url + "/admin/session", headers=on_b).status_code == 200
    out = httpx.delete(
        a.url + "/admin/session",
        headers={"cookie": cookie, "x-csrf-token": signed.json()["csrf_token"]},
    )
    assert out.status_code == 200 and out.json()["signed_out"] is True
    assert httpx.get(a.url + "/admin/session", headers=on_b).status_code == 401
    until(lambda: httpx.get(b.url + "/admin/session", headers=on_b).status_code == 401, 5.0)
    assert httpx.get(b.url + "/admin/keys", headers=on_b).status_code == 401


def cli(tmp: Path, config: Path, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", *args, "-c", str(config)],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_cli_keys_on_the_database_of_a_running_gateway(mock: Proc, tmp_path: Path) -> None:
    # No master key, no keys: open. gpt-test is priced: the key below has a budget.
    priced = {"models": {"gpt-test": {"input": 0, "output": 0}}}
    gw = start_gateway(tenancy_config(mock, pricing=priced), tmp_path)
    try:
        config = next(tmp_path.glob("turnout-*.yaml"))
        assert status(gw, None) == 200
        cli(tmp_path, config, "teams", "create", "cli-team", "--models", "gpt-*", "--rpm", "50")
        out = cli(
            tmp_path, config, "keys", "create", "--team", "cli-team", "--tpm", "100000",
            "--budget", "5", "--period", "day", "--model-limit", "gpt-*:rpm=10,parallel=2",
        )  # fmt: skip
        key = out[-1]
        assert key.startswith("sk-sy-") and " " not in key  # alone on its last line
        key_id = out[0].split()[1]
        until(lambda: status(gw, None) == 401, 1.0)  # the first key switched auth on
        assert status(gw, key) == 200
        listed = cli(tmp_path, config, "keys", "list", "--json")
        assert key_id in "".join(listed) and key not in "".join(listed)
        cli(tmp_path, config, "keys", "revoke", key_id)
        until(lambda: status(gw, key) == 401, 1.0)
        assert status(gw, None) == 401  # revoking the last key keeps auth on
    finally:
        gw.stop()
