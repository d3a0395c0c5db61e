"""Rotating TURNOUT_SECRET_KEY: a gateway given NEW,OLD keeps serving the credentials sealed
under OLD while ``turnout secrets rotate`` (a real process) re-seals them; afterwards OLD can
be dropped. A key that opens nothing is named, never a crash."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from tests.integration.test_auth import ADMIN, MASTER, new_key, tenancy_config
from tests.support.procs import PYTHON, Proc, start_gateway
from turnout.crypto import SecretBox


def _secrets(tmp: Path, config: Path, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TURNOUT_SECRET_KEY": key}
    return subprocess.run(
        [PYTHON, "-m", "turnout.cli.main", "secrets", *args, "-c", str(config)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _sealed(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT secret FROM provider_credentials")]


def _ask(gw: Proc, key: str) -> None:
    client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
    assert client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}]
    ).choices


@pytest.mark.timeout(400)
def test_rotation_without_downtime_then_the_old_key_goes(mock: Proc, tmp_path: Path) -> None:
    old, new = secrets.token_hex(32), secrets.token_hex(32)
    old_id, new_id = SecretBox.from_text(old).key_id, SecretBox.from_text(new).key_id
    config = tenancy_config(mock)
    config_file = tmp_path / "turnout.yaml"
    config_file.write_text(yaml.safe_dump(config))
    stored = ["sk-stored-" + secrets.token_hex(16) for _ in range(3)]
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": old}

    gw = start_gateway(config, tmp_path, env=env, ready_within=60)
    try:
        for n, key in enumerate(stored):
            added = httpx.post(
                gw.url + "/admin/credentials",
                json={"provider": "oa", "api_key": key, "name": f"k{n}"},
                headers=ADMIN,
            )
            assert added.status_code == 201, added.text
        client_key, _ = new_key(gw)
    finally:
        gw.stop()
    db = tmp_path / "turnout.db"
    assert {s.split(".")[1] for s in _sealed(db)} == {old_id}

    # Step 1: the gateway gets NEW,OLD and serves every stored key (sealed under OLD).
    both = f"{new},{old}"
    gw = start_gateway(config, tmp_path, env={**env, "TURNOUT_SECRET_KEY": both}, ready_within=60)
    try:
        masks = httpx.get(gw.url + "/admin/config", headers=ADMIN).json()
        assert len(masks["providers"]["oa"]["api_keys"]) == 4
        _ask(gw, client_key)
        before = _secrets(tmp_path, config_file, both, "status", "--json")
        assert before.returncode == 0, before.stderr
        assert json.loads(before.stdout)["by_key_id"] == {old_id: 3}

        # Step 2: rotate while the gateway serves.
        rotated = _secrets(tmp_path, config_file, both, "rotate")
        assert rotated.returncode == 0, rotated.stderr
        assert "re-sealed 3" in rotated.stdout
        _ask(gw, client_key)
        again = _secrets(tmp_path, config_file, both, "rotate", "--json")
        assert json.loads(again.stdout)["rotated"] == 0  # nothing left under OLD
        assert json.loads(again.stdout)["current"] == 3
        for text in (before.stdout, rotated.stdout, rotated.stderr, gw.output()):
            assert not any(key in text for key in stored) and old not in text
    finally:
        gw.stop()
    assert {s.split(".")[1] for s in _sealed(db)} == {new_id}
    assert not any(key in "".join(_sealed(db)) for key in stored)

    # Step 3: OLD is dropped; every stored key still serves.
    gw = start_gateway(config, tmp_path, env={**env, "TURNOUT_SECRET_KEY": new}, ready_within=60)
    try:
        masks = httpx.get(gw.url + "/admin/config", headers=ADMIN).json()
        assert len(masks["providers"]["oa"]["api_keys"]) == 4
        assert "not usable" not in gw.output()
    finally:
        gw.stop()

    # A key list that opens nothing: every value is named, the exit status says so.
    wrong = _secrets(tmp_path, config_file, secrets.token_hex(32), "rotate")
    assert wrong.returncode == 1
    assert wrong.stderr.count("cannot open: provider_credentials cred_") == 3
    assert f"key id {new_id}" in wrong.stderr
    missing = _secrets(tmp_path, config_file, "", "status")
    assert missing.returncode == 1 and "TURNOUT_SECRET_KEY" in missing.stderr
