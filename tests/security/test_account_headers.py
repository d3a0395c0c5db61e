"""What a provider account says about itself in its answers' headers stays with the gateway.

Every gateway key shares the provider account: its rate-limit headers tell what the account has
left after every tenant's calls, and its organisation and project ids name the operator's
account. Before, both were relayed to every client, and a key with its own limits got two of
each ``x-ratelimit-*`` header (the account's, then its own), which SDKs read as one
comma-joined value.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support.procs import Proc, start_gateway

MASTER = "sy-master-account-headers-01"
ACCOUNT = {
    "openai-organization": "org-operator-acme",
    "openai-project": "proj_operator",
    "anthropic-organization-id": "0c2c2c2c-operator",
    "x-ratelimit-limit-requests": "30000",
    "x-ratelimit-remaining-requests": "29123",
    "x-ratelimit-remaining-tokens": "149000000",
    "x-ratelimit-reset-tokens": "6ms",
    "anthropic-ratelimit-tokens-remaining": "400000",
    "openai-processing-ms": "42",  # about this call: still relayed
}


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "storage": {"enabled": False},
        "providers": {
            "up": {
                "type": "openai-compatible",
                "base_url": rogue_server.url + "/v1",
                "api_keys": ["sk-shared-account-0001"],
                "headers": {f"x-rogue-reply-{k}": v for k, v in ACCOUNT.items()},
            }
        },
        "models": {"m": {"deployments": [{"provider": "up"}]}},
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("account"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def _key(gateway: Proc, **limits: int) -> str:
    made = httpx.post(
        gateway.url + "/admin/keys", json=limits, headers={"authorization": f"Bearer {MASTER}"}
    )
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


@pytest.mark.parametrize("limits", [{}, {"rpm": 1000}], ids=["no limits", "rpm"])
def test_the_accounts_headers_are_not_relayed(gateway: Proc, limits: dict[str, int]) -> None:
    client = openai.OpenAI(api_key=_key(gateway, **limits), base_url=gateway.url + "/v1")
    raw = client.chat.completions.with_raw_response.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
    )
    headers = raw.headers
    for name in ACCOUNT:
        if name != "openai-processing-ms" and not (limits and name.startswith("x-ratelimit-")):
            assert name not in headers, name
    assert headers["openai-processing-ms"] == "42"
    if limits:  # the key's own limit, once
        assert headers.get_list("x-ratelimit-limit-requests") == ["1000"]
        assert headers.get_list("x-ratelimit-remaining-requests") == ["999"]
        assert "x-ratelimit-remaining-tokens" not in headers
