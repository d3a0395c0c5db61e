"""Issue 12 item 9: the response cache must not be shared across tenants by default.

Before: with the default namespace, team B got team A's cached answer, and the
``x-turnout-cache-key`` header let any tenant learn whether another had already sent a prompt;
keys without a team shared answers even with ``namespace: team``. Now the default namespace is
per team, a key without a team is a tenant of its own, and only admin callers (the master key,
keys with the admin scope) see cache keys. A real gateway with a master key, teams and keys made
through the admin API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

MASTER = "turnout-master-key-for-cache-tenants"
ADMIN = {"authorization": f"Bearer {MASTER}"}
PROMPT: Any = [{"role": "user", "content": "the same prompt from every tenant"}]


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"cached": {"cache": True, "deployments": [{"provider": "mock"}]}},
        "cache": {"backend": "memory"},  # no namespace: the default is under test
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("tenants"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def _key(gateway: Proc, team: str | None = None) -> str:
    body = {"team": team} if team else {}
    resp = httpx.post(gateway.url + "/admin/keys", headers=ADMIN, json=body)
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


def _ask(gateway: Proc, key: str) -> Any:
    client = openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="cached", messages=PROMPT)
    return raw.headers


def test_tenants_never_share_answers_or_see_keys(gateway: Proc) -> None:
    for team in ("red", "blue"):
        assert httpx.post(gateway.url + "/admin/teams", headers=ADMIN, json={"name": team})
    red_1, red_2 = _key(gateway, "red"), _key(gateway, "red")
    blue = _key(gateway, "blue")
    loner_1, loner_2 = _key(gateway), _key(gateway)

    first = _ask(gateway, red_1)
    assert first["x-turnout-cache"] == "miss"
    assert "x-turnout-cache-key" not in first  # a tenant never sees cache keys
    assert _ask(gateway, red_2)["x-turnout-cache"] == "hit"  # the same team shares
    assert _ask(gateway, blue)["x-turnout-cache"] == "miss"  # another team does not
    # Keys without a team: neither each other's nor a team's answers.
    assert _ask(gateway, loner_1)["x-turnout-cache"] == "miss"
    hit = _ask(gateway, loner_1)
    assert hit["x-turnout-cache"] == "hit" and "x-turnout-cache-key" not in hit
    assert _ask(gateway, loner_2)["x-turnout-cache"] == "miss"


def test_admin_callers_see_cache_keys(gateway: Proc) -> None:
    headers = _ask(gateway, MASTER)
    assert len(headers["x-turnout-cache-key"]) == 32
    again = _ask(gateway, MASTER)
    assert again["x-turnout-cache"] == "hit"
    assert again["x-turnout-cache-key"] == headers["x-turnout-cache-key"]
    resp = httpx.post(gateway.url + "/admin/keys", headers=ADMIN, json={"scopes": ["admin"]})
    assert resp.status_code == 201, resp.text
    admin_key = resp.json()["key"]  # the admin scope: it may purge, so it may see keys
    assert len(_ask(gateway, admin_key)["x-turnout-cache-key"]) == 32


@pytest.fixture(scope="module")
def small(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """A memory cache of about twenty answers."""
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"cached": {"cache": True, "deployments": [{"provider": "mock"}]}},
        "cache": {"backend": "memory", "max_bytes": 20_000},
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("small"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def _cached(gateway: Proc, key: str, prompt: str) -> str:
    client = openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0)
    messages: Any = [{"role": "user", "content": prompt}]
    raw = client.chat.completions.with_raw_response.create(model="cached", messages=messages)
    state: str = raw.headers["x-turnout-cache"]
    return state


def _stats(gateway: Proc) -> Any:
    return httpx.get(gateway.url + "/admin/cache/stats", headers=ADMIN).json()


def test_one_key_flooding_the_cache_does_not_push_out_another_keys_answers(small: Proc) -> None:
    """Before: the memory cache dropped its least recently used answers whoever stored them,
    so a key sending distinct cacheable prompts in a loop evicted every other key's answers
    (their next identical request went upstream again, at their cost). Now the key holding the
    most bytes loses its own oldest: Mallory's flood evicts only Mallory's answers."""
    alice, bob, mallory = _key(small), _key(small), _key(small)
    assert _cached(small, alice, "alice's question") == "miss"
    assert _cached(small, bob, "bob's question") == "miss"
    until(lambda: _stats(small)["queued"] == 0 and _stats(small)["entries"] == 2)
    for i in range(80):
        assert _cached(small, mallory, f"flood {i}") == "miss"
    until(lambda: _stats(small)["queued"] == 0)
    stats = _stats(small)
    assert stats["evictions"] > 0 and stats["bytes"] <= 20_000  # the flood filled the cache
    assert _cached(small, alice, "alice's question") == "hit"
    assert _cached(small, bob, "bob's question") == "hit"
    assert _cached(small, mallory, "flood 79") == "hit"  # its newest are kept
    assert _cached(small, mallory, "flood 0") == "miss"  # its oldest went
