"""Provider credentials added through the admin API: sealed with AES-256-GCM in the database
(the plaintext is nowhere in the file), never shown again, serving at once (a live reload) and
after a restart."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import httpx
import openai

from tests.integration.test_auth import ADMIN, MASTER, new_key, tenancy_config
from tests.support.procs import Proc, start_gateway


def test_credentials_are_sealed_at_rest_and_join_the_pool(mock: Proc, tmp_path: Path) -> None:
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": secrets.token_hex(32)}
    config = tenancy_config(mock)
    provider_key = "sk-stored-" + secrets.token_hex(16)
    gw = start_gateway(config, tmp_path, env=env)
    try:
        added = httpx.post(
            gw.url + "/admin/credentials",
            json={"provider": "oa", "api_key": provider_key, "name": "second"},
            headers=ADMIN,
        )
        assert added.status_code == 201, added.text
        cred_id = added.json()["id"]
        unknown = httpx.post(
            gw.url + "/admin/credentials", json={"provider": "nope", "api_key": "x"}, headers=ADMIN
        )
        assert unknown.status_code == 400
        listed = httpx.get(gw.url + "/admin/credentials", headers=ADMIN).text
        for text in (added.text, listed):
            assert provider_key not in text and provider_key[-4:] in text  # a mask only
        pool = httpx.get(gw.url + "/admin/config", headers=ADMIN).json()
        assert len(pool["providers"]["oa"]["api_keys"]) == 2  # in the pool now, no restart
        key, _ = new_key(gw)
    finally:
        gw.stop()

    db = tmp_path / "turnout.db"
    for path in (db, db.with_name("turnout.db-wal")):
        if path.exists():
            assert provider_key.encode() not in path.read_bytes()
    with sqlite3.connect(db) as conn:
        (sealed,) = conn.execute(
            "SELECT secret FROM provider_credentials WHERE id = ?", (cred_id,)
        ).fetchone()
    assert sealed.startswith("v1.") and provider_key not in sealed

    again = start_gateway(config, tmp_path, env=env)  # same database, same secret key
    try:
        pool = httpx.get(again.url + "/admin/config", headers=ADMIN).json()
        masks = pool["providers"]["oa"]["api_keys"]
        assert len(masks) == 2 and any(m.endswith(provider_key[-4:]) for m in masks)
        assert provider_key not in str(pool)
        client = openai.OpenAI(api_key=key, base_url=again.url + "/v1", max_retries=0)
        assert client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        ).choices
        assert provider_key not in again.output()
    finally:
        again.stop()

    wrong = {**env, "TURNOUT_SECRET_KEY": secrets.token_hex(32)}
    third = start_gateway(config, tmp_path, env=wrong)  # starts, without the sealed key
    try:
        pool = httpx.get(third.url + "/admin/config", headers=ADMIN).json()
        assert len(pool["providers"]["oa"]["api_keys"]) == 1
        assert "stored credential not usable" in third.output()
    finally:
        third.stop()
