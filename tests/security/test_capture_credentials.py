"""Capture files never hold a credential, whatever header or query parameter carried it.

A capture records the client's request headers and the reply's headers as they were; only a
fixed list of credential headers used to be redacted, so an MCP passthrough credential
(``x-mcp-{server}-authorization``), an ``x-auth-token``, a header an operator relays with
``forward_headers``, a ``Bearer`` value under any name or an ``?access_token=`` reached the
file in clear (docs/security.md, "Credentials in capture files").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.support.procs import Proc, start_gateway
from tests.support.wait import found

MASTER = "capture-master-key-0123456789"
CHAT = '{"id":"c1","object":"chat.completion","created":1,"model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'  # noqa: E501
SECRETS = {
    "x-mcp-files-authorization": "Bearer MCP-PASSTHROUGH-SECRET-1",
    "x-auth-token": "AUTH-TOKEN-SECRET-2",
    "x-custom-session": "SESSION-SECRET-3",
    "x-custom-relay": "Bearer RELAYED-SECRET-4",
    "x-amz-security-token": "AMZ-SECRET-5",
}


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("capture-credentials")
    config: dict[str, Any] = {
        "providers": {
            "up": {
                "type": "openai-compatible",
                "base_url": rogue_server.url + "/v1",
                "api_keys": ["sk-gateway-secret-01"],
                "forward_headers": ["x-rogue-*", "x-custom-*"],
            }
        },
        "models": {"gpt-*": {"deployments": [{"provider": "up"}]}},
        "capture": {"enabled": True, "dir": str(tmp / "captures")},
    }
    gw = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    gw.captures = tmp / "captures"  # type: ignore[attr-defined]
    yield gw
    gw.stop()


def _capture(folder: Path, rid: str) -> str:
    return found(lambda: list(folder.glob(f"*_{rid}.json")), 10, 0.05)[0].read_text()


def test_credentials_in_any_header_or_query_parameter_are_redacted(gateway: Proc) -> None:
    r = httpx.post(
        gateway.url + "/admin/keys",
        headers={"authorization": f"Bearer {MASTER}"},
        json={"name": "capture"},
    )
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=r.json()["key"], max_retries=0)
    reply_secret = "REPLY-SESSION-SECRET-6"
    answer = client.chat.completions.create(
        model="gpt-x",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={
            **SECRETS,
            "x-request-id": "capture-credentials-1",
            "x-rogue-body": CHAT,
            "x-rogue-reply-x-session-token": reply_secret,
        },
        extra_query={"access_token": "QUERY-SECRET-7", "alt": "json"},
    )
    assert answer.choices[0].message.content == "ok"
    text = _capture(gateway.captures, "capture-credentials-1")  # type: ignore[attr-defined]
    record = orjson.loads(text)
    for secret in [*SECRETS.values(), "QUERY-SECRET-7", reply_secret]:
        assert secret.split()[-1] not in text, secret
    headers = record["request"]["headers"]
    assert all(headers[name] == "[redacted]" for name in SECRETS)
    assert record["request"]["query"] == "access_token=[redacted]&alt=json"
    # What is no credential stays readable for debugging.
    assert headers["x-request-id"] == "capture-credentials-1"
    assert record["request"]["body"]["messages"][0]["content"] == "hi"
