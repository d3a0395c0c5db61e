"""``POST /v1/feedback`` rates an answer by its request id, and the ratings train the learned
router. Before, any key could rate any request: another tenant who learned a request id
replaced its owner's rating (one label per request and source). Now a key's rating is kept
apart from every other key's and the export counts it only on that key's own requests. Real
gateway and mock provider, the OpenAI SDK as the client, ``turnout router export`` as the
reader."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

pytestmark = pytest.mark.timeout(180)
MASTER = "feedback-master-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}


def test_another_keys_rating_never_counts(mock: Proc, tmp_path: Path) -> None:
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "up"}]}},
        "capture": {"enabled": True, "dir": "captures", "models": ["gpt-test"]},
        "storage": {"flush_interval": 0.05},
    }
    gw = start_gateway(config, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        keys = {}
        for name in ("owner", "stranger"):
            made = httpx.post(gw.url + "/admin/keys", headers=ADMIN, json={"name": name})
            assert made.status_code == 201, made.text
            keys[name] = made.json()["key"]
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=keys["owner"], max_retries=0)
        rid = "rated-by-its-owner"
        client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-request-id": rid},
        )

        def rate(who: str, thumbs: str) -> None:
            got = httpx.post(
                gw.url + "/v1/feedback",
                headers={"authorization": f"Bearer {keys[who]}"},
                json={"request_id": rid, "thumbs": thumbs},
            )
            assert got.status_code == 200, got.text

        # The stranger reuses the id (a client may choose it) with a prompt of its own: the
        # export used to join the newest capture of an id to every row of it, so the owner's
        # rated row was exported with the stranger's prompt.
        openai.OpenAI(
            base_url=gw.url + "/v1", api_key=keys["stranger"], max_retries=0
        ).chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "planted by the stranger"}],
            extra_headers={"x-request-id": rid},
        )
        rate("owner", "up")
        rate("stranger", "down")  # after the owner: it used to replace the owner's rating
        until(
            lambda: (
                len(
                    httpx.get(
                        gw.url + "/admin/logs", headers=ADMIN, params={"request_id": rid}
                    ).json()["rows"]
                )
                == 2
            )
        )
        config_path = next(tmp_path.glob("turnout-*.yaml"))
        exported = subprocess.run(
            [sys.executable, "-m", "turnout.cli.main", "router", "export", "-c",
             str(config_path), "--model", "gpt-test", "--out", "rows.jsonl"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert exported.returncode == 0, exported.stdout + exported.stderr
        rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
        mine, theirs = sorted(
            (r for r in rows if r["request_id"] == rid), key=lambda r: -r["score"]
        )
        assert mine["feedback"] == 1.0 and mine["score"] == 1.0 and mine["source"] == "feedback"
        assert "planted" not in mine["prompt"] and "hi" in mine["prompt"]
        assert theirs["score"] == 0.0 and "planted" in theirs["prompt"]  # its own, as it sent
    finally:
        gw.stop()


def test_feedback_is_limited_and_bounded_per_key(mock: Proc, tmp_path: Path) -> None:
    """``/v1/feedback`` takes any request id (the request log is written in the background),
    so one key could write rows without end: now each rating counts against the key's
    ``rpm`` as a model request does, and a key keeps only its newest
    ``storage.feedback_per_key`` labels; another key's are never pushed out."""
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "up"}]}},
        "storage": {"flush_interval": 0.05, "feedback_per_key": 5},
    }
    gw = start_gateway(config, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        keys, ids = {}, {}
        for name, body in (("slow", {"rpm": 3}), ("flood", {}), ("quiet", {})):
            made = httpx.post(gw.url + "/admin/keys", headers=ADMIN, json={"name": name, **body})
            assert made.status_code == 201, made.text
            keys[name], ids[name] = made.json()["key"], made.json()["id"]

        def rate(who: str, rid: str) -> httpx.Response:
            return httpx.post(
                gw.url + "/v1/feedback",
                headers={"authorization": f"Bearer {keys[who]}"},
                json={"request_id": rid, "thumbs": "up"},
            )

        assert rate("quiet", "quiet-1").status_code == 200
        # The key's rpm: three ratings, then the gateway's usual 429 (the SDK's error shape).
        assert [rate("slow", f"slow-{i}").status_code for i in range(3)] == [200, 200, 200]
        refused = rate("slow", "slow-3")
        assert refused.status_code == 429, refused.text
        assert refused.headers["retry-after"]
        assert refused.json()["error"]["type"]
        # A key without limits: every rating answered, only its newest five kept.
        for i in range(12):
            assert rate("flood", f"flood-{i:02d}").status_code == 200
        db = sqlite3.connect(tmp_path / "turnout.db")
        try:
            rows = db.execute("SELECT request_id, source FROM route_labels").fetchall()
        finally:
            db.close()
        flood = sorted(r for r, s in rows if s == f"feedback:{ids['flood']}")
        assert flood == [f"flood-{i:02d}" for i in range(7, 12)]
        assert ("quiet-1", f"feedback:{ids['quiet']}") in rows  # never another key's
        assert len([r for r, s in rows if s == f"feedback:{ids['slow']}"]) == 3
    finally:
        gw.stop()
