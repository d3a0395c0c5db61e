"""One gateway key's bad model names must not cool a wildcard deployment down for every model.

Before: a deployment with ``model: "*"`` (what a glob model like ``gem-*`` and zero-config mode
route through) kept ONE health record (breaker, cooldown, latency, key states) for every model
name sent through it. A key asking for a model the upstream fails (500, overloaded, 429, or a
"not found" a provider's rule calls a server error) ejected the deployment, or rate-limited its
key, for every other key and model: the other key's calls failed over to the backup deployment
(or got a 503). Now health is kept per (deployment, model), and an upstream "not found" for a
name the client chose is the client's answer, never counted against the deployment.

A real gateway with a master key and two keys made through the admin API, the official OpenAI
SDK, the mock provider (told to fail with forwarded ``x-mock-*`` headers); which deployment
answered is read from ``x-turnout-deployment``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, keyed_openai, mock_provider, start_gateway

MASTER = "turnout-master-key-for-wildcard-health"
ADMIN = {"authorization": f"Bearer {MASTER}"}
MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "routing": {
            "overloaded_retries": 0,
            "breaker": {"consecutive_failures": 3, "cooldown": 120, "max_cooldown": 120},
            "cooldowns": {"rate_limited": 120},
            "wildcard_models": 64,
        },
        "providers": {
            # Like Azure's DeploymentNotFound rule: a 404 names a deployment that is gone.
            "mock": mock_provider(mock, error_rules=[{"status": 404, "reason": "server_error"}]),
            # Forwards no client header: always answers.
            "backup": {**mock_provider(mock), "forward_headers": []},
        },
        "models": {
            "gem-*": {
                "deployments": [
                    {"provider": "mock", "model": "*", "priority": 0},
                    {"provider": "backup", "model": "*", "priority": 1},
                ]
            }
        },
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("wildcard"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def _key(gateway: Proc) -> openai.OpenAI:
    client: openai.OpenAI = keyed_openai(gateway, MASTER)
    return client


def _ask(client: openai.OpenAI, model: str, **headers: str) -> tuple[str, str]:
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=MESSAGES, max_tokens=2, extra_headers=headers
    )
    raw.parse()
    return raw.headers["x-turnout-deployment"], raw.headers["x-turnout-attempts"]


@pytest.mark.parametrize(
    ("bad", "headers"),
    [
        ("gem-broken", {"x-mock-status": "500"}),
        ("gem-overloaded", {"x-mock-status": "503"}),
        ("gem-throttled", {"x-mock-status": "429", "x-mock-retry-after": "600"}),
    ],
)
def test_one_keys_failing_model_leaves_other_models_on_the_deployment(
    gateway: Proc, bad: str, headers: dict[str, str]
) -> None:
    alice, mallory = _key(gateway), _key(gateway)
    good = f"gem-good-{bad}"
    assert _ask(alice, good) == (f"mock/{good}", "1")
    for _ in range(8):  # well past consecutive_failures: that model's record is ejected
        # The backup forwards no x-mock-* header: it answers what the first one failed.
        assert _ask(mallory, bad, **headers)[0] == f"backup/{bad}"
    # Mallory's model is cooling down on the first deployment: it goes straight to the backup.
    assert _ask(mallory, bad)[0] == f"backup/{bad}"
    # Alice's model never failed: the first deployment answers her at once, every time.
    for _ in range(5):
        assert _ask(alice, good) == (f"mock/{good}", "1")
    health = httpx.get(gateway.url + "/admin/health", headers=ADMIN).json()
    (row,) = [d for d in health["deployments"] if d["id"] == "mock/*"]
    assert row["state"] == "active"


def test_a_model_the_upstream_does_not_know_is_the_clients_answer(gateway: Proc) -> None:
    alice, mallory = _key(gateway), _key(gateway)
    for _ in range(8):
        with pytest.raises(openai.NotFoundError) as caught:
            mallory.chat.completions.create(
                model="gem-nonexistent",
                messages=MESSAGES,
                max_tokens=2,
                extra_headers={"x-mock-status": "404"},
            )
        # Not failed over, not retried: the name is wrong wherever it is sent.
        assert caught.value.response.headers["x-turnout-attempts"] == "1"
        assert caught.value.response.headers["x-turnout-deployment"] == "mock/gem-nonexistent"
    assert _ask(alice, "gem-fine") == ("mock/gem-fine", "1")
    # Not even that model's own record counted it: it is still tried first.
    assert _ask(mallory, "gem-nonexistent") == ("mock/gem-nonexistent", "1")


def test_distinct_model_names_are_bounded(gateway: Proc) -> None:
    mallory = _key(gateway)
    for i in range(100):  # more names than wildcard_models (64)
        _ask(mallory, f"gem-flood-{i}")
    health = httpx.get(gateway.url + "/admin/health", headers=ADMIN).json()
    (row,) = [d for d in health["deployments"] if d["id"] == "mock/*"]
    assert row["per_model"]["tracked"] <= 64
    assert row["per_model"]["bound"] == 64
