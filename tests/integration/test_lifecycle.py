"""Process-level behaviour: client disconnects, SIGTERM drain, refusing a bad config."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import openai

from tests.support.procs import PYTHON, Proc, mock_provider, start_gateway
from tests.support.wait import until

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _stats(mock: Proc) -> dict[str, int]:
    return httpx.get(mock.url + "/_mock/stats").json()  # type: ignore[no-any-return]


def test_client_disconnect_cancels_upstream(gateway: Proc, mock: Proc) -> None:
    before = _stats(mock)["cancelled_streams"]
    client = openai.OpenAI(api_key="k", base_url=gateway.url + "/v1", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-test",
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-mock-tokens": "500", "x-mock-chunk-ms": "20"},
    )
    for i, _ in enumerate(stream):
        if i == 3:
            break
    stream.close()
    until(lambda: _stats(mock)["cancelled_streams"] > before)  # the upstream stream is cut


def test_sigterm_drains_inflight_stream(mock: Proc, tmp_path: Path) -> None:
    config = {
        "server": {"drain_timeout": 10},
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    gw = start_gateway(config, tmp_path)
    try:
        client = openai.OpenAI(api_key="k", base_url=gw.url + "/v1", max_retries=0)
        received: list[str] = []
        errors: list[BaseException] = []

        def consume() -> None:
            try:
                for chunk in client.chat.completions.create(
                    model="m",
                    messages=MESSAGES,
                    stream=True,
                    extra_headers={"x-mock-tokens": "40", "x-mock-chunk-ms": "25"},
                ):
                    if chunk.choices and chunk.choices[0].delta.content:
                        received.append(chunk.choices[0].delta.content)
            except BaseException as exc:
                errors.append(exc)

        reader = threading.Thread(target=consume)
        reader.start()
        until(lambda: received)  # the stream is flowing
        gw.signal(signal.SIGTERM)

        def refused() -> bool:  # new connections are refused once the drain starts
            try:
                httpx.get(gw.url + "/readyz", timeout=1).raise_for_status()
            except httpx.HTTPError:
                return True
            return False

        until(refused)
        reader.join(15)
        assert not errors, errors
        assert len(received) == 40, "the in-flight stream was cut by the shutdown"
        assert gw.popen.wait(15) == 0
    finally:
        gw.stop()


def test_invalid_config_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        """
server: {port: 4141, hots: 1}
providers:
  openai: {type: openai, api_keys: ["k"]}
  claude: {type: antropic, base_url: "https://api.anthropic.com", api_keys: ["k"]}
models:
  gpt-4o:
    deployments:
      - {provider: openai, model: gpt-4o}
      - {provider: opnai, model: gpt-4o}
"""
    )
    for command in ("check", "serve"):
        result = subprocess.run(
            [PYTHON, "-m", "turnout.cli.main", command, "-c", str(bad)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2, result
        out = result.stderr
        assert "models.gpt-4o.deployments[1].provider: unknown provider 'opnai'" in out
        assert "did you mean 'openai'" in out and "known: openai, claude" in out
        assert "server.hots: unknown key (did you mean 'host'?)" in out
        assert "providers.claude.type: unknown provider type 'antropic'" in out


def test_check_prints_routing_table_with_masked_keys(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        """
providers:
  openai: {type: openai, api_keys: ["${TEST_KEY}"]}
models:
  gpt-4o: {deployments: [{provider: openai, model: gpt-4o}]}
"""
    )
    result = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "check", "-c", str(good)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"TEST_KEY": "sk-proj-abcdefghijklmnop", "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "gpt-4o" in result.stdout and "https://api.openai.com/v1" in result.stdout
    assert "abcdefghijklmnop" not in result.stdout and "mnop" in result.stdout
