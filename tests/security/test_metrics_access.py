"""Who may read ``/metrics``.

Before (2026-12-07) anyone who reached the port read every configured model and deployment
with its traffic and errors, each provider key's state, and every guardrail rule that fired,
a ``keywords`` rule being the denied word itself; ``/v1/models`` and ``/admin/health`` hid the
same from keys that were not the operator's. Now ``metrics.access: admin`` (the default) asks
for the scrape token, the master key or an admin or viewer key, and an open gateway with a
scrape token asks for the token. The word here stands for a confidential project name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, start_gateway
from tests.support.wait import until

MASTER = "sk-master-metrics-access-01"
TOKEN = "scrape-token-metrics-0001"
WORD = "project-nightjar"


def _config(rogue: Proc) -> dict[str, Any]:
    return {
        "storage": {"enabled": False},
        "providers": {
            "up": {
                "type": "openai-compatible",
                "base_url": rogue.url + "/v1",
                "api_keys": ["sk-gateway-secret-01"],
            }
        },
        "models": {"gpt-internal": {"deployments": [{"provider": "up"}]}},
        "plugins": [{"plugin": "keywords", "settings": {"deny": [WORD]}}],
    }


@pytest.fixture(scope="module")
def guarded(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {**_config(rogue_server), "metrics": {"token": TOKEN}}
    tmp = tmp_path_factory.mktemp("metrics-access")
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()


def _key(gw: Proc, **body: Any) -> str:
    made = httpx.post(
        gw.url + "/admin/keys", json=body, headers={"authorization": f"Bearer {MASTER}"}
    )
    assert made.status_code == 201, made.text
    secret: str = made.json()["key"]
    return secret


def _scrape(gw: Proc, secret: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {secret}"} if secret else {}
    return httpx.get(gw.url + "/metrics", headers=headers)


def _trip_the_guardrail(gw: Proc, key: str) -> None:
    client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="gpt-internal", messages=[{"role": "user", "content": f"about {WORD}"}]
        )


def _wait_for(gw: Proc, secret: str, needle: str) -> str:
    seen = [""]

    def reached() -> bool:
        seen[0] = _scrape(gw, secret).text
        return needle in seen[0]

    until(reached, limit=20, step=0.05)
    return seen[0]


def test_only_the_operator_and_the_scrape_token_read_the_metrics(guarded: Proc) -> None:
    key = _key(guarded)
    _trip_the_guardrail(guarded, key)
    text = _wait_for(guarded, TOKEN, WORD)  # Prometheus, with its bearer token
    assert "gpt-internal" in text
    for secret, status in ((None, 401), ("not-a-key-at-all", 401), (key, 403)):
        answer = _scrape(guarded, secret)
        assert answer.status_code == status, answer.text
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert WORD not in answer.text and "gpt-internal" not in answer.text
    viewer = _key(guarded, scopes=["viewer"])
    for secret in (MASTER, viewer):
        answer = _scrape(guarded, secret)
        assert answer.status_code == 200 and WORD in answer.text
        assert answer.headers["content-type"].startswith("text/plain")


def test_an_open_gateway_with_a_scrape_token_asks_for_it(
    rogue_server: Proc, tmp_path: Path
) -> None:
    gw = start_gateway(_config(rogue_server), tmp_path, env={"TURNOUT_METRICS_TOKEN": TOKEN})
    try:
        _trip_the_guardrail(gw, "anything")  # authentication is off: any key is taken
        _wait_for(gw, TOKEN, WORD)
        assert _scrape(gw).status_code == 401
        assert _scrape(gw, "anything").status_code == 401
    finally:
        gw.stop()


def test_public_metrics_are_served_to_anyone(rogue_server: Proc, tmp_path: Path) -> None:
    config = {**_config(rogue_server), "metrics": {"access": "public"}}
    gw = start_gateway(config, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        answer = _scrape(gw)
        assert answer.status_code == 200 and "turnout_requests_in_flight" in answer.text
    finally:
        gw.stop()
