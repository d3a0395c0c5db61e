"""A secret kept in an environment variable never comes back in a config problem
(docs/security.md, "Environment values in config problems"): referenced from the wrong field
or a misspelt place, the problem shows ``${NAME}``, in ``turnout check``, in a reload's 422,
in ``GET /admin/config`` and in the log. Before, the value itself was quoted
(``server.port: expected an integer, got 'sk-live-…'``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from tests.support.procs import PYTHON, Proc, mock_provider, start_gateway

SECRET = "sk-live-envsecret-4f1c9a7be20d"
LONG = "tok-" + "9b3e" * 25  # cut short by the message, which shows 57 characters
ENV = {"TURNOUT_T_SECRET": SECRET, "TURNOUT_T_LONG": LONG}


def _good(mock: Proc) -> dict[str, Any]:
    return {
        "providers": {"mock": mock_provider(mock)},
        "models": {"live": {"deployments": [{"provider": "mock", "model": "v0"}]}},
    }


def _bad(mock: Proc) -> dict[str, Any]:
    cfg = _good(mock)
    cfg["server"] = {"port": "${TURNOUT_T_SECRET}"}
    cfg["providers"]["mock"]["streaming_mode"] = "os.environ/TURNOUT_T_LONG"
    cfg["providers"]["other"] = {
        "type": "openai-compatible",
        "base_url": "${TURNOUT_T_SECRET}/v1",
        "api_keys": ["k"],
    }
    cfg["models"]["live"]["deployments"][0]["provider"] = "x-${TURNOUT_T_SECRET}"
    return cfg


def _assert_hidden(text: str) -> None:
    assert SECRET[8:20] not in text, text
    assert LONG[4:24] not in text, text


def test_check_shows_the_reference_not_the_value(mock: Proc, tmp_path: Path) -> None:
    path = tmp_path / "turnout.yaml"
    path.write_text(yaml.safe_dump(_bad(mock)))
    done = subprocess.run(
        [PYTHON, "-m", "turnout.cli.main", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **ENV},
        cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output, output
    _assert_hidden(output)
    assert "server.port: expected an integer, got '${TURNOUT_T_SECRET}'" in output, output
    assert "${TURNOUT_T_LONG}" in output, output


def test_a_reload_shows_the_reference_not_the_value(mock: Proc, tmp_path: Path) -> None:
    proc = start_gateway(_good(mock), tmp_path, "--no-watch", env=ENV, ready_within=60)
    path = tmp_path / f"turnout-{proc.port}.yaml"
    try:
        path.write_text(yaml.safe_dump(_bad(mock)))
        answer = httpx.post(proc.url + "/admin/config/reload", timeout=60)
        assert answer.status_code == 422, answer.text
        _assert_hidden(answer.text)
        assert "${TURNOUT_T_SECRET}" in answer.text
        status = httpx.get(proc.url + "/admin/config", timeout=10).text
        _assert_hidden(status)
        client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="live", messages=[{"role": "user", "content": "hi"}]
        )
        assert raw.headers["x-turnout-deployment"] == "mock/v0"  # the old config serves on
        assert "config reload failed" in proc.output()
        _assert_hidden(proc.output())
    finally:
        proc.stop()
