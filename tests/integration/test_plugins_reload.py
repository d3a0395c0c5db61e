"""A live reload changes the plugin pipeline of a running gateway: a guardrail switched on
for one team only, then off again, with gateway keys of two teams and the OpenAI SDK."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.support.procs import Proc, mock_provider, start_gateway

MASTER = "sk-master-plugins-reload-0001"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
SECRET: Any = [{"role": "user", "content": "the codename is bluebird"}]


def config(mock: Proc, plugins: list[Any]) -> dict[str, Any]:
    return {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "up"}]}},
        "plugins": plugins,
    }


@pytest.fixture
def gw(mock: Proc, tmp_path: Path) -> Iterator[Proc]:
    proc = start_gateway(
        config(mock, []), tmp_path, "--no-watch", env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def write(gw: Proc, tmp: Path, cfg: dict[str, Any]) -> None:
    path = tmp / f"turnout-{gw.port}.yaml"
    staged = path.with_name(path.name + ".tmp")
    staged.write_text(yaml.safe_dump(cfg))
    os.replace(staged, path)
    answer = httpx.post(gw.url + "/admin/config/reload", headers=ADMIN, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == "reloaded", answer.text


def key_of(gw: Proc, team: str) -> openai.OpenAI:
    assert httpx.post(gw.url + "/admin/teams", headers=ADMIN, json={"name": team}).is_success
    made = httpx.post(gw.url + "/admin/keys", headers=ADMIN, json={"team": team})
    assert made.status_code == 201, made.text
    return openai.OpenAI(api_key=made.json()["key"], base_url=gw.url + "/v1", max_retries=0)


def test_a_reload_turns_a_guardrail_on_for_one_team_only(
    gw: Proc, mock: Proc, tmp_path: Path
) -> None:
    red, blue = key_of(gw, "red"), key_of(gw, "blue")
    assert red.chat.completions.create(model="gpt-test", messages=SECRET).choices
    guard = {"plugin": "keywords", "teams": ["red"], "settings": {"deny": ["codename"]}}
    write(gw, tmp_path, config(mock, [guard]))
    with pytest.raises(openai.BadRequestError) as info:
        red.chat.completions.create(model="gpt-test", messages=SECRET)
    assert info.value.code == "guardrail_refused"
    assert blue.chat.completions.create(model="gpt-test", messages=SECRET).choices
    write(gw, tmp_path, config(mock, []))  # and off again
    assert red.chat.completions.create(model="gpt-test", messages=SECRET).choices
