"""Provider accounts signed in with OAuth, against a real authorization server process
(tests/support/idp.py) that issues short-lived tokens and also serves as the upstream,
accepting only live access tokens.

One account signs in through the device flow, one through the code flow with PKCE and a
loopback callback (``turnout accounts login``, real processes); two gateway replicas on one
database route with both, refresh them before they expire while requests flow (none fails,
no upstream call carries an expired token, no refresh token is used twice, no grant is
refreshed twice at once), and when one account's grant is revoked the account is marked
invalid everywhere and calls go to the other one.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.integration.test_auth import ADMIN, MASTER
from tests.support.idp import CLIENT_ID, CLIENT_SECRET
from tests.support.procs import PYTHON, Proc, free_port, start_gateway

TTL = 6.0
SECRET = secrets.token_hex(32)


def start_idp(ttl: float = TTL) -> Proc:
    port = free_port()
    script = str(Path(__file__).parents[1] / "support" / "idp.py")
    args = [PYTHON, script, "--port", str(port), "--ttl", str(ttl)]
    return Proc(args, port, "/jwks", ready_within=60)


@pytest.fixture(scope="module")
def idp() -> Iterator[Proc]:
    proc = start_idp()
    yield proc
    proc.stop()


def oauth_config(idp: Proc, db: Path) -> dict[str, Any]:
    return {
        "storage": {"url": str(db), "flush_interval": 0.05},
        "providers": {
            "corp": {
                "type": "openai-compatible",
                "base_url": f"{idp.url}/v1",
                "auth": "oauth",
                "oauth": {
                    "token_url": f"{idp.url}/token",
                    "authorization_url": f"{idp.url}/authorize",
                    "device_authorization_url": f"{idp.url}/device_authorization",
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "scopes": ["models"],
                    "refresh_before": TTL / 2,
                },
            },
        },
        "models": {"corp-model": {"deployments": [{"provider": "corp", "model": "up"}]}},
        "routing": {"max_attempts": 3},
    }


def _env() -> dict[str, str]:
    return {**os.environ, "TURNOUT_SECRET_KEY": SECRET, "TURNOUT_MASTER_KEY": MASTER}


def _login(config: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "turnout.cli.main", "accounts", "login", "corp", "-c", str(config), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
        cwd=config.parent,
    )


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "turnout.cli.main", "accounts", *args, "-c", str(config)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=config.parent,
        timeout=60,
    )


def _line(proc: subprocess.Popen[str], pattern: str) -> re.Match[str]:
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # ends when the process exits
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


def _finish(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out.strip().splitlines()[-1]


def _ask(gw: Proc, model: str = "corp-model") -> str:
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    return reply.choices[0].message.content or ""


def _stats(idp: Proc) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(idp.url + "/_idp/stats").json()
    return data


def _wait(what: str, check: Any, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {within}s: {what}")


@pytest.mark.timeout(400)
def test_accounts_sign_in_refresh_under_traffic_and_fail_over(idp: Proc, tmp_path: Path) -> None:
    db = tmp_path / "turnout.db"
    config = oauth_config(idp, db)
    config_file = tmp_path / "turnout.yaml"
    config_file.write_text(yaml.safe_dump(config))

    # The device flow: the CLI shows a code, someone approves it on "another device".
    httpx.post(idp.url + "/_idp/user", json={"sub": "alice", "groups": []})
    login = _login(config_file, "--device")
    code = _line(login, r"enter the code (\w+)").group(1)
    assert httpx.post(idp.url + "/_idp/approve", json={"user_code": code}).status_code == 200
    alice = _finish(login)

    # The code flow with PKCE: the "browser" follows the URL to the loopback callback.
    httpx.post(idp.url + "/_idp/user", json={"sub": "bob", "groups": []})
    login = _login(config_file, "--browser", "--no-open")
    url = _line(login, r"^(http\S+/authorize\?\S+)").group(1)
    assert "code_challenge=" in url and "state=" in url
    landed = httpx.get(url, follow_redirects=True, timeout=10)
    assert landed.status_code == 200 and "Signed in" in landed.text
    bob = _finish(login)
    assert alice.startswith("acct_") and bob.startswith("acct_") and alice != bob

    env = {"TURNOUT_SECRET_KEY": SECRET, "TURNOUT_MASTER_KEY": MASTER}
    replicas: list[Proc] = []
    try:
        for _ in range(2):
            replicas.append(start_gateway(config, tmp_path, env=env, ready_within=60))
        # Both replicas route with both accounts' tokens.
        served = {_ask(gw) for gw in replicas for _ in range(4)}
        assert served == {"hello alice", "hello bob"}

        # Requests keep flowing over two token lifetimes (each account's token refreshed
        # about every TTL / 2, so several times): every one succeeds, tokens are refreshed
        # before they expire, by one replica at a time per account.
        start = _stats(idp)["refreshes"]
        deadline = time.monotonic() + 2 * TTL
        sent = 0
        while time.monotonic() < deadline:
            for gw in replicas:
                assert _ask(gw).startswith("hello ")
                sent += 1
        stats = _stats(idp)
        assert stats["refreshes"] - start >= 4, stats  # two accounts, several lifetimes
        assert stats["overlaps"] == 0 and stats["reused"] == 0, stats
        assert stats["rejected"] == 0, stats  # no upstream call carried an expired token
        assert sent > 20

        # Alice's grant is revoked: her calls fail over to Bob at once, and her account is
        # marked invalid (in the table, on both replicas) with the reason.
        httpx.post(idp.url + "/_idp/revoke", json={"sub": "alice"})
        for _ in range(6):
            for gw in replicas:
                assert _ask(gw) == "hello bob"

        def invalid_everywhere() -> bool:
            for gw in replicas:
                keys = httpx.get(gw.url + "/admin/health", headers=ADMIN).json()["keys"]
                mine = [k for k in keys if k["id"].endswith("#" + alice)]
                if not mine or not all("invalid_grant" in (k["reason"] or "") for k in mine):
                    return False
            return True

        _wait("alice's account invalid on both replicas", invalid_everywhere)
        listed = _cli(config_file, "list", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = {r["id"]: r for r in yaml.safe_load(listed.stdout)["accounts"]}
        assert rows[alice]["status"] == "invalid" and "invalid_grant" in rows[alice]["reason"]
        assert rows[bob]["status"] == "active"
        for _ in range(4):
            assert _ask(replicas[0]) == "hello bob"

        # Removing Bob's account: the replicas stop using it, and with no account left the
        # model answers an error, not a crash.
        removed = _cli(config_file, "remove", bob)
        assert removed.returncode == 0, removed.stderr

        def bob_gone() -> bool:
            keys = httpx.get(replicas[1].url + "/admin/health", headers=ADMIN).json()["keys"]
            return not any(k["id"].endswith("#" + bob) for k in keys)

        _wait("bob's account left the pools", bob_gone)
        with pytest.raises(openai.APIStatusError):
            _ask(replicas[1])
        outputs = [gw.output() for gw in replicas]
    finally:
        for gw in replicas:
            gw.stop()

    # No token in the gateways' output or the database file, in clear.
    for text in outputs:
        assert not re.search(r"\b(at|rt)-[\w-]{20,}", text)
    wal = db.with_name("turnout.db-wal")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert not re.search(rb"\b(at|rt)-[\w-]{20,}", raw)


@pytest.mark.timeout(300)
def test_accounts_through_the_admin_api(idp: Proc, tmp_path: Path) -> None:
    config = oauth_config(idp, tmp_path / "turnout.db")
    env = {"TURNOUT_SECRET_KEY": SECRET, "TURNOUT_MASTER_KEY": MASTER}
    gw = start_gateway(config, tmp_path, env=env, ready_within=60)
    try:
        url = gw.url + "/admin/accounts"
        assert httpx.get(url, headers=ADMIN).json() == {
            "enabled": True,
            "accounts": [],
            "providers": [{"name": "corp", "device_flow": True}],
        }
        viewer = httpx.post(gw.url + "/admin/keys", json={"scopes": ["viewer"]}, headers=ADMIN)
        as_viewer = {"authorization": f"Bearer {viewer.json()['key']}"}
        assert httpx.post(url, json={"provider": "corp"}, headers=as_viewer).status_code == 403
        assert httpx.post(url, json={"provider": "nope"}, headers=ADMIN).status_code == 400

        httpx.post(idp.url + "/_idp/user", json={"sub": "erin", "groups": []})
        started = httpx.post(url, json={"provider": "corp", "name": "erin"}, headers=ADMIN)
        assert started.status_code == 202, started.text
        login = started.json()
        assert login["status"] == "pending" and login["verification_uri"].startswith(idp.url)
        approve = {"user_code": login["user_code"], "sub": "erin"}
        assert httpx.post(idp.url + "/_idp/approve", json=approve).status_code == 200

        def done() -> bool:
            got = httpx.get(f"{url}/logins/{login['id']}", headers=ADMIN).json()
            assert got["status"] != "failed", got
            return bool(got["status"] == "done")

        _wait("the device sign-in stored", done)
        listed = httpx.get(url, headers=ADMIN)
        [account] = listed.json()["accounts"]
        assert account["status"] == "active" and account["name"] == "erin"
        assert account["expires_in"] is not None and not re.search(r"\b(at|rt)-", listed.text)
        assert _ask(gw) == "hello erin"

        # A live reload (a model added) keeps the account in the new key pools.
        config["models"]["corp-two"] = {"deployments": [{"provider": "corp", "model": "up"}]}
        (tmp_path / f"turnout-{gw.port}.yaml").write_text(yaml.safe_dump(config))
        reloaded = httpx.post(gw.url + "/admin/config/reload", headers=ADMIN, timeout=60)
        # "unchanged" when the file watcher applied the edit first.
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["result"] in ("reloaded", "unchanged")
        assert _ask(gw) == "hello erin" and _ask(gw, "corp-two") == "hello erin"

        gone = httpx.delete(f"{url}/{account['id']}", headers=ADMIN)
        assert gone.status_code == 200
        assert httpx.get(url, headers=ADMIN).json()["accounts"] == []
        assert httpx.delete(f"{url}/{account['id']}", headers=ADMIN).status_code == 404
    finally:
        gw.stop()
