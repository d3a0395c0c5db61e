"""A gateway with authentication off, and the web pages its operator opens.

Binding to loopback is what keeps others out of an open gateway, and a page in the operator's
browser reaches loopback too. Before (2026-12-07): by DNS rebinding, a page whose name had
come to resolve to 127.0.0.1 read the admin API and spent the provider keys
(``Host: rebind.attacker.example`` was served), and any page could POST a chat completion
cross-site. Now such requests are a 403 in the path's protocol; SDKs, curl and the dashboard,
which name a loopback host and send no foreign ``Origin``, are served as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, mock_provider, start_gateway

CHAT = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
MESSAGES = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'


def _gateway(mock: Proc, tmp: Path, env: dict[str, str] | None = None) -> Proc:
    config = {
        "server": {"allowed_hosts": ["gw.internal", "*.corp.example"]},
        "storage": {"enabled": False},
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    return start_gateway(config, tmp, env=env)


@pytest.fixture(scope="module")
def open_gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = _gateway(mock, tmp_path_factory.mktemp("open"))
    yield proc
    proc.stop()


def _send(gateway: Proc, path: str, body: bytes, host: str, *headers: str) -> rawhttp.RawReply:
    data = rawhttp.post(path, body, "Content-Type: text/plain", *headers, host=host)
    reply = rawhttp.request(gateway.port, data)
    assert reply is not None
    return reply


def test_sdks_and_loopback_names_are_served(open_gateway: Proc) -> None:
    for base in (open_gateway.url, f"http://localhost:{open_gateway.port}"):
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
        answer = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content
    client2 = anthropic.Anthropic(base_url=open_gateway.url, api_key="unused", max_retries=0)
    assert client2.messages.create(
        model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    ).content
    port = open_gateway.port
    for host in (f"[::1]:{port}", f"127.0.0.2:{port}", f"app.localhost:{port}", "gw.internal"):
        assert _send(open_gateway, "/v1/chat/completions", CHAT, host).status == 200, host
    assert _send(open_gateway, "/v1/chat/completions", CHAT, "a.corp.example").status == 200
    # A page of the gateway's own origin (the dashboard) is no cross-site request.
    origin = f"Origin: http://127.0.0.1:{port}"
    assert _send(open_gateway, "/v1/chat/completions", CHAT, "127.0.0.1", origin).status == 200


@pytest.mark.parametrize(
    ("path", "body", "shape"),
    [
        ("/v1/chat/completions", CHAT, "openai"),
        ("/v1/messages", MESSAGES, "anthropic"),
        ("/admin/config", b"", "openai"),
    ],
)
def test_a_rebound_name_is_refused(open_gateway: Proc, path: str, body: bytes, shape: str) -> None:
    host = f"rebind.attacker.example:{open_gateway.port}"
    data = (
        rawhttp.post(path, body, host=host)
        if body
        else f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    )
    reply = rawhttp.request(open_gateway.port, data)
    assert reply is not None and reply.status == 403
    error = json.loads(reply.body)
    if shape == "anthropic":
        assert error["type"] == "error" and error["error"]["type"] == "permission_error"
    else:
        assert "DNS rebinding" in error["error"]["message"]
    assert b"rebind.attacker.example" in reply.body


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://gw.internal.evil"])
def test_a_cross_site_page_is_refused(open_gateway: Proc, origin: str) -> None:
    reply = _send(open_gateway, "/v1/chat/completions", CHAT, "127.0.0.1", f"Origin: {origin}")
    assert reply.status == 403 and b"other origins" in reply.body


def test_with_authentication_on_keys_are_the_guard(
    mock: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    master = "sk-master-pages-0123456789"
    proc = _gateway(mock, tmp_path_factory.mktemp("keyed"), env={"TURNOUT_MASTER_KEY": master})
    try:
        auth = f"Authorization: Bearer {master}"
        reply = _send(proc, "/v1/chat/completions", CHAT, "gw.example.com", auth)
        assert reply.status == 200
        reply = _send(proc, "/v1/chat/completions", CHAT, "rebind.attacker.example")
        assert reply.status == 401  # no key: refused for that, not for its host
    finally:
        proc.stop()
