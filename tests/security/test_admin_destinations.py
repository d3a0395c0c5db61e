"""Every place a provider written through the admin API makes the gateway connect passes the
outbound policy (docs/security.md, "Provider credential endpoints from the admin API"): its
OAuth token and device endpoints and Azure's Entra authority, on create and on update, not
only its ``base_url`` and ``proxy``. Before, they were stored unchecked and the gateway posted
to them as to a trusted config-file destination: a device sign-in reached a listener on
127.0.0.2 that the policy refuses for the admin API.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway

MASTER = "dest-master-test-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def _answer(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        body = b'{"error": "invalid_client"}'
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def inside() -> Iterator[tuple[str, list[str]]]:
    """A listener on 127.0.0.2: loopback, outside the policy's allow list (127.0.0.1/32)."""
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.2", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.2:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def gw(mock: Proc, tmp_path: Path) -> Iterator[Proc]:
    config = {
        "outbound": {"allow": ["127.0.0.1/32"]},  # the mock; 127.0.0.2 stays refused
        "providers": {  # one OAuth provider in the file: the accounts API is on
            "mock": mock_provider(mock),
            "signed": mock_provider(
                mock,
                api_keys=[],
                auth="oauth",
                oauth={"token_url": f"{mock.url}/t", "client_id": "c"},
            ),
        },
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    env = {"TURNOUT_MASTER_KEY": MASTER, "TURNOUT_SECRET_KEY": secrets.token_hex(32)}
    proc = start_gateway(config, tmp_path, "--no-watch", env=env, ready_within=60)
    yield proc
    proc.stop()


def _put(gw: Proc, name: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.put(f"{gw.url}/admin/providers/{name}", headers=ADMIN, json=body, timeout=30)


def _oauth(mock: Proc, token: str, device: str | None = None) -> dict[str, Any]:
    oauth = {"token_url": token, "client_id": "c"}
    if device is not None:
        oauth["device_authorization_url"] = device
    return {
        "type": "openai-compatible",
        "base_url": f"{mock.url}/v1",
        "auth": "oauth",
        "oauth": oauth,
    }


def test_oauth_endpoints_pass_the_policy_on_create_and_update(
    gw: Proc, mock: Proc, inside: tuple[str, list[str]]
) -> None:
    url, seen = inside
    created = _put(gw, "evil", _oauth(mock, f"{url}/token", f"{url}/device"))
    assert created.status_code == 422, created.text
    problems = "\n".join(created.json()["problems"])
    assert "providers.evil.oauth.token_url: refused by the outbound policy" in problems
    assert "providers.evil.oauth.device_authorization_url: refused" in problems

    good = _put(gw, "acct", _oauth(mock, f"{mock.url}/token", f"{mock.url}/device"))
    assert good.status_code == 201, good.text
    for bad in (_oauth(mock, f"{url}/token"), _oauth(mock, f"{mock.url}/t", f"{url}/device")):
        updated = _put(gw, "acct", bad)
        assert updated.status_code == 422, updated.text
    stored = httpx.get(f"{gw.url}/admin/providers/acct", headers=ADMIN, timeout=10).json()
    assert stored["oauth"]["token_url"] == f"{mock.url}/token"  # the update changed nothing

    # A sign-in for the provider stored first never reaches the refused address.
    started = httpx.post(
        f"{gw.url}/admin/accounts", headers=ADMIN, json={"provider": "evil"}, timeout=30
    )
    assert started.status_code in (400, 404), started.text
    assert seen == []


def test_azure_entra_authority_passes_the_policy(
    gw: Proc, mock: Proc, inside: tuple[str, list[str]]
) -> None:
    url, seen = inside
    entra = {"tenant_id": "t", "client_id": "c", "client_secret": "s3cret-value", "authority": url}
    body = {"type": "azure", "base_url": mock.url, "options": {"entra": entra}}
    refused = _put(gw, "az", body)
    assert refused.status_code == 422, refused.text
    text = refused.text
    assert "providers.az.options.entra.authority: refused by the outbound policy" in text
    assert "s3cret-value" not in text
    allowed = _put(gw, "az", {**body, "options": {"entra": {**entra, "authority": mock.url}}})
    assert allowed.status_code == 201, allowed.text
    assert seen == []


def test_host_files_and_host_credentials_stay_out_of_reach(gw: Proc, mock: Proc) -> None:
    """A Vertex key is a path on the gateway's host (``/dev/zero`` would be read whole; a
    service-account file's ``token_uri`` is called outside the outbound policy), and Vertex and
    Bedrock without keys sign with the host's own cloud credentials: through the admin API
    neither is allowed, nor is a ``base_url`` that would receive the host's token. Before,
    all were stored (201)."""
    vertex = {"type": "vertex", "options": {"project": "p"}}
    cases = {
        "key-file": ({**vertex, "api_keys": ["/dev/zero"]}, "api_keys: vertex keys are files"),
        "credentials-file": (
            {**vertex, "options": {"project": "p", "credentials_file": "/etc/hostname"}},
            "options.credentials_file: files on the gateway's host",
        ),
        "adc-elsewhere": ({**vertex, "base_url": mock.url}, "base_url: without api_keys"),
        "aws-chain-elsewhere": (
            {"type": "bedrock", "base_url": mock.url, "options": {"region": "us-east-1"}},
            "signs with the AWS credential chain",
        ),
    }
    for name, (body, expected) in cases.items():
        answer = _put(gw, name, body)
        assert answer.status_code == 422, (name, answer.text)
        assert expected in answer.text, (name, answer.text)
    # What stays allowed: the host's credentials towards the type's own endpoint, explicit
    # AWS keys to a chosen endpoint.
    assert _put(gw, "vertex-own", vertex).status_code == 201
    keyed = {
        "type": "bedrock",
        "base_url": mock.url,
        "api_keys": ["AKIAEXAMPLE:secret-example-0001"],
        "options": {"region": "us-east-1"},
    }
    assert _put(gw, "bedrock-keyed", keyed).status_code == 201
