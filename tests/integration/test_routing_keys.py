"""Key pools, error rules and the health keeper through real gateway processes.

The mock provider accepts any key, so these tests put a small key-checking upstream on
loopback instead: it answers per API key (valid, revoked, out of quota), and a test flips a
key's fate while the gateway runs to watch the keeper notice.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.support.procs import PYTHON, Proc, start_gateway
from tests.support.wait import until

MESSAGES: Any = [{"role": "user", "content": "hi"}]
GOOD, REVOKED, BROKE = "sk-key-good-0001", "sk-key-revoked-02", "sk-key-broke-003"
_ERRORS = {
    "revoked": (401, {"message": "Incorrect API key provided", "code": "invalid_api_key"}),
    "quota": (400, {"message": "You exceeded your current quota", "code": "quota_exceeded"}),
}


class KeyStub:
    """An OpenAI-shaped upstream that answers by the caller's key; counts calls per key,
    telling the keeper's probes (one output token) from client requests."""

    def __init__(self) -> None:
        self.fate: dict[str, str] = {}
        self.calls: Counter[tuple[str, bool]] = Counter()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                key = self.headers.get("authorization", "").removeprefix("Bearer ")
                stub.calls[(key, body.get("max_tokens") == 1)] += 1
                status, err = _ERRORS.get(stub.fate.get(key, "ok"), (200, None))
                payload = {"error": {**err, "type": "invalid_request_error"}} if err else {
                    "id": "chatcmpl-stub", "object": "chat.completion", "created": 1,
                    "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "ok"}}],
                }  # fmt: skip
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def requests(self, key: str) -> int:
        """Client requests (not probes) that reached the upstream with ``key``."""
        return self.calls[(key, False)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _config(stub: KeyStub, keeper: bool = False) -> dict[str, Any]:
    quota_rule = {"status": 400, "path": "error.code", "match": "^quota_exceeded$",
                  "reason": "no_quota"}  # fmt: skip
    provider = {"type": "openai-compatible", "base_url": stub.url}
    config: dict[str, Any] = {
        "providers": {
            "pool": {**provider, "api_keys": [REVOKED, GOOD]},
            "quota": {**provider, "api_keys": [BROKE, GOOD], "error_rules": [quota_rule]},
            "single": {**provider, "api_keys": [REVOKED]},
        },
        "models": {
            "pooled": {"deployments": [{"provider": "pool", "model": "stub-1"}]},
            "quota": {"deployments": [{"provider": "quota", "model": "stub-2"}]},
            "single": {"deployments": [{"provider": "single", "model": "stub-3"}]},
        },
    }
    if keeper:
        config["health"] = {"interval": 0.2, "jitter": 0, "timeout": 2}
    return config


@pytest.fixture(scope="module")
def stub() -> Iterator[KeyStub]:
    s = KeyStub()
    yield s
    s.close()


@pytest.fixture(scope="module")
def gw(stub: KeyStub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(_config(stub), tmp_path_factory.mktemp("keys"))
    yield proc
    proc.stop()


def _client(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-client", base_url=gw.url + "/v1", max_retries=0)


def _keys(gw: Proc) -> dict[tuple[str, str], dict[str, Any]]:
    report = httpx.get(gw.url + "/admin/health").json()
    return {(k["provider"], k["key"]): k for k in report["keys"]}


def _mask(key: str) -> str:
    return f"{key[:3]}…{key[-4:]}"


def test_invalid_key_is_marked_and_another_key_serves(gw: Proc, stub: KeyStub) -> None:
    stub.fate[REVOKED] = "revoked"
    client = _client(gw)
    raw = client.chat.completions.with_raw_response.create(model="pooled", messages=MESSAGES)
    assert raw.headers["x-turnout-attempts"] == "2"  # same deployment, the other key
    assert raw.headers["x-turnout-deployment"] == "pool/stub-1"
    for _ in range(6):
        raw = client.chat.completions.with_raw_response.create(model="pooled", messages=MESSAGES)
        assert raw.headers["x-turnout-attempts"] == "1"
    assert stub.requests(REVOKED) == 1
    key = _keys(gw)[("pool", _mask(REVOKED))]
    assert (key["state"], key["reason"], key["scope"]) == ("invalid", "invalid_key", "stub-1")


def test_rule_maps_a_400_with_a_code_to_no_quota(gw: Proc, stub: KeyStub) -> None:
    stub.fate[BROKE] = "quota"
    client = _client(gw)
    for _ in range(5):
        assert client.chat.completions.create(model="quota", messages=MESSAGES).choices
    assert stub.requests(BROKE) == 1  # marked out of quota after its first answer
    assert _keys(gw)[("quota", _mask(BROKE))]["state"] == "no_quota"


def test_every_key_rejected_is_a_503_not_the_upstream_401(gw: Proc, stub: KeyStub) -> None:
    stub.fate[REVOKED] = "revoked"
    client = _client(gw)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="single", messages=MESSAGES)
        assert info.value.status_code == 503
        assert info.value.response.headers["x-should-retry"] == "false"
        assert REVOKED[:6] not in info.value.response.text
    assert stub.requests(REVOKED) >= 1


def test_keeper_marks_a_revoked_key_invalid_and_a_restored_one_active(
    stub: KeyStub, tmp_path: Path
) -> None:
    stub.fate[REVOKED] = "revoked"
    gw = start_gateway(_config(stub, keeper=True), tmp_path, "--with-worker")
    try:
        key = ("pool", _mask(REVOKED))
        until(lambda: _keys(gw)[key]["state"] == "invalid")
        assert _keys(gw)[key]["probe"] == "invalid_key"
        before = stub.requests(REVOKED)
        client = _client(gw)
        for _ in range(4):
            raw = client.chat.completions.with_raw_response.create(
                model="pooled", messages=MESSAGES
            )
            assert raw.headers["x-turnout-attempts"] == "1"
        assert stub.requests(REVOKED) == before  # the keeper found it first: no request wasted
        # `turnout status` shows what the serving process routes by.
        out = subprocess.run(
            [PYTHON, "-m", "turnout.cli.main", "status", "--url", gw.url],
            capture_output=True, text=True, timeout=30, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "invalid" in out.stdout and _mask(REVOKED) in out.stdout
        assert REVOKED not in out.stdout
        # The key is restored upstream: the keeper brings it back well before its cooldown.
        stub.fate[REVOKED] = "ok"
        until(lambda: _keys(gw)[key]["state"] == "active")
        used = Counter(
            client.chat.completions.with_raw_response.create(
                model="pooled", messages=MESSAGES
            ).headers["x-turnout-attempts"]
            for _ in range(4)
        )
        assert used == {"1": 4}
        assert stub.requests(REVOKED) == before + 2  # back in the rotation
    finally:
        gw.stop()


def test_worker_once_checks_every_key(stub: KeyStub, tmp_path: Path) -> None:
    stub.fate.update({REVOKED: "revoked", BROKE: "quota"})
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump(_config(stub)))
    out = subprocess.run(
        [PYTHON, "-m", "turnout.cli.main", "worker", "--once", "-c", str(path)],
        capture_output=True, text=True, timeout=30, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    rows = [line for line in out.stdout.splitlines() if "stub-" in line]
    assert len(rows) == 5, out.stdout  # 2 keys of pool, 2 of quota, 1 of single
    assert sum("invalid_key" in r for r in rows) == 2 and sum("no_quota" in r for r in rows) == 1
