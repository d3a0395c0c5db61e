"""The gateway's own steps named in ``plugins:``: limits and the cache switched per model, and
a live reload moving them, through a real gateway process with the official OpenAI SDK."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.integration.test_auth import ADMIN, MASTER, new_key, tenancy_config
from tests.support.procs import Proc, start_gateway


def config(mock: Proc, plugins: list[Any]) -> dict[str, Any]:
    return tenancy_config(mock, cache={"default": True}, plugins=plugins)


PLUGINS: list[Any] = [
    {"plugin": "limits", "overrides": [{"models": ["gpt-other"], "enabled": False}]},
    {"plugin": "cache", "enabled": False, "overrides": [{"models": ["gpt-test"], "enabled": True}]},
]


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(
        config(mock, PLUGINS),
        tmp_path_factory.mktemp("builtin-plugins"),
        env={"TURNOUT_MASTER_KEY": MASTER},
    )
    yield proc
    proc.stop()


def ask(client: openai.OpenAI, model: str, text: str) -> Any:
    return client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}]
    )


def test_limits_switched_off_for_one_model(gw: Proc) -> None:
    key, _ = new_key(gw, rpm=2)
    client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
    for i in range(5):  # no limit for this model
        assert ask(client, "gpt-other", f"free {i}").http_response.status_code == 200
    for i in range(2):
        assert ask(client, "gpt-test", f"limited {i}").http_response.status_code == 200
    with pytest.raises(openai.RateLimitError):
        ask(client, "gpt-test", "limited 3")


def test_cache_switched_on_for_one_model(gw: Proc) -> None:
    key, _ = new_key(gw)
    client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
    first = ask(client, "gpt-test", "cache me")
    assert first.headers["x-turnout-cache"] == "miss"
    hit = ask(client, "gpt-test", "cache me")
    assert hit.headers["x-turnout-cache"] == "hit"
    assert hit.parse().choices[0].message.content == first.parse().choices[0].message.content
    for _ in range(2):  # the cache step is not in this model's chain at all
        assert "x-turnout-cache" not in ask(client, "gpt-other", "cache me").headers


def test_a_reload_moves_the_cache_to_another_model(gw: Proc, mock: Proc) -> None:
    args = gw.popen.args
    assert isinstance(args, list)
    path = Path(args[args.index("-c") + 1])  # the file the gateway reloads
    moved = [PLUGINS[0], {**PLUGINS[1], "overrides": [{"models": ["gpt-other"], "enabled": True}]}]
    path.write_text(yaml.safe_dump(config(mock, moved)))
    try:
        answer = httpx.post(gw.url + "/admin/config/reload", headers=ADMIN, timeout=30)
        assert answer.status_code == 200, answer.text
        key, _ = new_key(gw)
        client = openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)
        assert "x-turnout-cache" not in ask(client, "gpt-test", "after reload").headers
        assert ask(client, "gpt-other", "after reload").headers["x-turnout-cache"] == "miss"
        assert ask(client, "gpt-other", "after reload").headers["x-turnout-cache"] == "hit"
    finally:
        path.write_text(yaml.safe_dump(config(mock, PLUGINS)))
        httpx.post(gw.url + "/admin/config/reload", headers=ADMIN, timeout=30)


def test_check_refuses_switching_auth_off(tmp_path: Path, mock: Proc) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config(mock, [{"plugin": "auth", "enabled": False}])))
    done = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "'auth' cannot be switched off" in done.stdout + done.stderr
