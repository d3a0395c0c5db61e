"""A provider added through the admin API keeps every credential sealed in the database: its
``api_keys`` as before, and now its static ``headers`` (where ``Authorization`` and
``x-api-key`` go) and its OAuth ``client_secret``. The raw rows hold none of them, the provider
still sends its headers after a restart (an upstream that answers with a header's value says
so), an update without ``api_keys`` keeps the keys but not the old headers, and a row written
before the fix (headers in its body) is still read. The same for a credential in the
``base_url`` (a ``?key=`` query, ``user:token@``): sealed, used as written, never shown. Real
gateway processes, the OpenAI SDK as the client."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.integration.test_guardrails import start_echo
from tests.support.procs import Proc, free_port, rogue_requests, start_gateway
from turnout.crypto import SecretBox

pytestmark = pytest.mark.timeout(240)
MASTER = "sealed-fields-master-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
HEADER = "hdr-answer-secret-0001"  # the echo upstream answers with x-echo-answer's value
API_HEADER = "hdr-api-secret-0002"
CLIENT = "oauth-client-secret-0003"
KEY = "api-key-secret-value-0004"
LATER = "hdr-answer-secret-0005"
LEGACY = "hdr-legacy-clear-0006"


@pytest.fixture(scope="module")
def echo() -> Iterator[Proc]:
    proc = start_echo()
    yield proc
    proc.stop()


def admin(gw: Proc, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers=ADMIN, json=body, timeout=30)


def answer(gw: Proc, model: str) -> str:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0)
    got = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    return got.choices[0].message.content or ""


def raw_rows(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return repr(conn.execute("SELECT * FROM managed_entries").fetchall())
    finally:
        conn.close()


def _plant_legacy(db: Path, legacy: dict[str, Any], env: dict[str, str]) -> None:
    """A stored provider ``legacy`` (its keys sealed, as they always were) and a model ``old``
    on it, written as a gateway from before the fix wrote them: the rest of ``legacy`` in the
    clear, in its row's body."""
    box = SecretBox.from_text(env["TURNOUT_SECRET_KEY"])
    keys = json.dumps([box.seal(KEY, "managed-provider:legacy")])
    now = datetime.now(UTC)
    model_body = {"deployments": [{"provider": "legacy", "model": "m"}]}
    conn = sqlite3.connect(db)
    try:
        conn.executemany(
            "INSERT INTO managed_entries (kind, name, body, sealed_keys, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                ("provider", "legacy", json.dumps(legacy), keys, now),
                ("model", "old", json.dumps(model_body), "[]", now),
            ],
        )
        conn.commit()
    finally:
        conn.close()


def test_a_stored_providers_credentials_are_sealed_at_rest(echo: Proc, tmp_path: Path) -> None:
    config = {"providers": {}, "models": {}, "outbound": {"allow": ["127.0.0.1/32"]}}
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": secrets.token_hex(32)}
    stored = {
        "type": "openai-compatible",
        "base_url": f"{echo.url}/v1",
        "api_keys": [KEY],
        "headers": {"x-echo-answer": HEADER, "x-api-key": API_HEADER},
    }
    signed = {
        "type": "openai-compatible",
        "base_url": f"http://127.0.0.1:{free_port()}/v1",
        "auth": "oauth",
        "oauth": {
            "token_url": f"http://127.0.0.1:{free_port()}/token",
            "client_id": "turnout",
            "client_secret": CLIENT,
        },
    }
    gw = start_gateway(config, tmp_path, "--no-watch", env=env, ready_within=60)
    try:
        assert admin(gw, "PUT", "/admin/providers/stored", stored).status_code == 201
        assert admin(gw, "PUT", "/admin/providers/signed", signed).status_code == 201
        model = {"deployments": [{"provider": "stored", "model": "m"}]}
        assert admin(gw, "PUT", "/admin/models/sealed", model).status_code == 201
        assert answer(gw, "sealed") == HEADER
    finally:
        gw.stop()
    db = tmp_path / "turnout.db"
    rows = raw_rows(db)
    assert "x-echo-answer" not in rows  # the headers whole, names and values
    assert not [s for s in (HEADER, API_HEADER, CLIENT, KEY) if s in rows], rows
    # A row written before the fix: its headers in the clear, in its body. Still read.
    legacy = {**stored, "headers": {"x-echo-answer": LEGACY}}
    del legacy["api_keys"]
    _plant_legacy(db, legacy, env)

    gw = start_gateway(config, tmp_path, "--no-watch", env=env, ready_within=60)
    try:
        assert answer(gw, "sealed") == HEADER  # opened after the restart
        assert answer(gw, "old") == LEGACY
        listed = httpx.get(gw.url + "/admin/providers", headers=ADMIN, timeout=10)
        assert not [s for s in (HEADER, API_HEADER, CLIENT, KEY) if s in listed.text]
        shown = {p["name"]: p for p in listed.json()["providers"]}
        assert set(shown["stored"]["headers"]) == {"x-echo-answer", "x-api-key"}
        assert shown["signed"]["oauth"]["client_secret"] == f"{CLIENT[:3]}…{CLIENT[-4:]}"
        # An update without api_keys keeps the key; its headers are the new ones alone.
        update = {k: v for k, v in stored.items() if k != "api_keys"}
        update["headers"] = {"x-echo-answer": LATER}
        assert admin(gw, "PUT", "/admin/providers/stored", update).status_code == 200
        assert answer(gw, "sealed") == LATER
        one = httpx.get(gw.url + "/admin/providers/stored", headers=ADMIN, timeout=10).json()
        assert set(one["headers"]) == {"x-echo-answer"} and len(one["api_keys"]) == 1
    finally:
        gw.stop()
    rows = raw_rows(db)
    assert not [s for s in (HEADER, API_HEADER, CLIENT, KEY, LATER) if s in rows], rows


QUERY = "url-query-secret-0007"
USERINFO = "url-userinfo-secret-0008"
LEGACY_QUERY = "url-legacy-clear-0009"
URL_SECRETS = (QUERY, USERINFO, KEY)


def call(gw: Proc, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "x"}]}
    got = httpx.post(gw.url + "/v1/chat/completions", headers=ADMIN, json=body, timeout=30)
    return got.status_code


def heads(rogue: Proc) -> str:
    return "\n".join(r["head"] for r in rogue_requests(rogue))


def test_a_credential_in_a_stored_base_url_is_sealed_and_never_shown(
    rogue: Proc, tmp_path: Path
) -> None:
    config = {"providers": {}, "models": {}, "outbound": {"allow": ["127.0.0.1/32"]}}
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": secrets.token_hex(32)}
    by_query = {
        "type": "openai-compatible",
        "base_url": f"{rogue.url}/v1?key={QUERY}",
        "api_keys": [KEY],
    }
    by_userinfo = {
        "type": "openai-compatible",
        "base_url": f"http://user:{USERINFO}@127.0.0.1:{rogue.port}/v1",
        "api_keys": [KEY],
    }
    gw = start_gateway(config, tmp_path, "--no-watch", env=env, ready_within=60)
    try:
        put = admin(gw, "PUT", "/admin/providers/query", by_query)
        assert put.status_code == 201, put.text
        assert not [s for s in URL_SECRETS if s in put.text]
        model = {"deployments": [{"provider": "query", "model": "m"}]}
        assert admin(gw, "PUT", "/admin/models/query", model).status_code == 201
        # Userinfo is refused for an admin-API destination (outbound policy), unquoted.
        put = admin(gw, "PUT", "/admin/providers/userinfo", by_userinfo)
        assert put.status_code == 422 and "credentials in the URL" in put.text
        assert USERINFO not in put.text
    finally:
        gw.stop()
    db = tmp_path / "turnout.db"
    rows = raw_rows(db)
    assert not [s for s in URL_SECRETS if s in rows], rows
    assert "?key=***" in rows  # the row still says which upstream, without the credential
    # A row written before the fix: its base_url in the clear, in its body. Still read.
    legacy = {"type": "openai-compatible", "base_url": f"{rogue.url}/v1?key={LEGACY_QUERY}"}
    _plant_legacy(db, legacy, env)

    gw = start_gateway(config, tmp_path, "--no-watch", env=env, ready_within=60)
    try:
        # Opened after the restart: the upstream is called with the URL as written.
        for served in ("query", "old"):
            call(gw, served)
        seen = heads(rogue)
        assert f"key={QUERY}" in seen and f"key={LEGACY_QUERY}" in seen, seen
        shown = [
            httpx.get(gw.url + path, headers=ADMIN, timeout=10).text
            for path in ("/admin/providers", "/admin/providers/query", "/admin/config")
        ]
        everything = "\n".join([*shown, gw.output()])
        assert not [s for s in (*URL_SECRETS, LEGACY_QUERY) if s in everything]
        assert "key=***" in shown[1] and "key=***" in shown[2]
    finally:
        gw.stop()
    assert not [s for s in URL_SECRETS if s in raw_rows(db)]
