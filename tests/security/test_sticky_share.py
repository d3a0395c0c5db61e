"""One gateway key naming sessions in a loop must not push out another key's sticky pins.

Before: the ``sticky`` strategy's table of pins (``max_entries``) forgot its oldest pin,
whoever held it, so a key naming distinct ``x-session-id`` values moved every other key's
agents off the deployment that holds their prompt cache. Now the key holding the most pins
loses its oldest. A real gateway with a master key and keys made through the admin API, the
official OpenAI SDK, deployments told apart by ``x-turnout-deployment``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, keyed_openai, mock_provider, start_gateway

MASTER = "turnout-master-key-for-sticky-shares"
ADMIN = {"authorization": f"Bearer {MASTER}"}
MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "routing": {"breaker": {"consecutive_failures": 1000}},
        "providers": {
            "mock": mock_provider(mock),
            # Forwards no client header: answers whatever x-mock-* a request carries.
            "steady": {**mock_provider(mock), "forward_headers": []},
        },
        "models": {
            "pinned": {
                "strategy": "sticky",
                "strategy_options": {"max_entries": 8},
                "deployments": [
                    {"provider": "mock", "model": "s-first", "priority": 0},
                    {"provider": "steady", "model": "s-second", "priority": 1},
                ],
            }
        },
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("sticky"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def _key(gateway: Proc) -> openai.OpenAI:
    client: openai.OpenAI = keyed_openai(gateway, MASTER)
    return client


def _ask(client: openai.OpenAI, session: str, **headers: str) -> str:
    raw = client.chat.completions.with_raw_response.create(
        model="pinned",
        messages=MESSAGES,
        max_tokens=2,
        extra_headers={"x-session-id": session, **headers},
    )
    raw.parse()
    deployment: str = raw.headers["x-turnout-deployment"]
    return deployment


def test_one_key_naming_many_sessions_keeps_only_its_own_pins_moving(gateway: Proc) -> None:
    alice, mallory = _key(gateway), _key(gateway)
    # Alice's session is pinned to the second deployment (the first failed it once) ...
    assert _ask(alice, "agent-a", **{"x-mock-status": "500"}) == "steady/s-second"
    assert _ask(alice, "agent-a") == "steady/s-second"
    # ... Mallory names fifty sessions, each pinned to the first ...
    for i in range(50):
        assert _ask(mallory, f"flood-{i}") == "mock/s-first"
    # ... and Alice's pin is still there: a new session would start on the first deployment.
    assert _ask(alice, "agent-a") == "steady/s-second"
    health = httpx.get(gateway.url + "/admin/health", headers=ADMIN).json()
    assert health["router"]["sticky_pins"]["pinned"] == 8  # the table stayed at its bound
