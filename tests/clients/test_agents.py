"""Real agent clients hold a whole session through the gateway.

The official SDKs judge each protocol call by call; Claude Code and Gemini CLI judge a session:
their beta headers and fields, cache-control blocks, thinking, structured-output routing calls
and tool loops. Each runs one short task, a single tool call and a final answer, against three
gateways: the built-in mock (as ``serve --demo``), a same-protocol upstream (the mock server
behind an ``anthropic`` or ``gemini`` provider: bytes forwarded), and a translated upstream
(Claude Code on an OpenAI-type deployment, Gemini CLI on an Anthropic-type one). The task is
done when the tool really ran (its output, ``turnout-ok``, comes back in the final answer) and
the gateway's request log holds exactly the expected calls, every one answered 200.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients.harness import claude, gemini, request_rows, require
from tests.support.procs import Proc, start_gateway

PROMPT = "Use the {tool} tool to run `echo turnout-ok` and tell me what it printed."


def _config(providers: dict[str, Any], claude_to: dict[str, Any], gemini_to: dict[str, Any]) -> Any:
    return {
        "providers": providers,
        "models": {
            "claude-*": {"deployments": [claude_to]},
            "gemini-*": {"deployments": [gemini_to]},
        },
        "storage": {"flush_interval": 0.05},
    }


def _upstream(kind: str, url: str) -> dict[str, Any]:
    return {"type": kind, "base_url": url, "api_keys": [f"sk-upstream-{kind}"]}


# name -> (config from the mock server's URL, deployment Claude Code lands on, Gemini CLI's)
SETUPS: dict[str, tuple[Callable[[str], Any], str, str]] = {
    "mock": (
        lambda url: _config({"mock": {"type": "mock"}}, {"provider": "mock"}, {"provider": "mock"}),
        "mock/",
        "mock/",
    ),
    "native": (
        lambda url: _config(
            {"ant": _upstream("anthropic", url), "gem": _upstream("gemini", url)},
            {"provider": "ant"},
            {"provider": "gem"},
        ),
        "ant/",
        "gem/",
    ),
    "translated": (
        lambda url: _config(
            {
                "oai": _upstream("openai-compatible", url + "/v1"),
                "ant": _upstream("anthropic", url),
            },
            {"provider": "oai", "model": "gpt-4o-mini"},
            {"provider": "ant", "model": "claude-sonnet-4-5"},
        ),
        "oai/gpt-4o-mini",
        "ant/claude-sonnet-4-5",
    ),
}


@pytest.fixture(scope="module", params=list(SETUPS))
def setup(
    request: pytest.FixtureRequest, mock: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proc, str, str]]:
    make, claude_lands, gemini_lands = SETUPS[request.param]
    gw = start_gateway(make(mock.url), tmp_path_factory.mktemp(f"gw-{request.param}"))
    yield gw, claude_lands, gemini_lands
    gw.stop()


def _answered(rows: list[Any], operation: str, lands: str) -> None:
    for row in rows:
        assert row["status"] == 200 and row["error"] is None, row
        assert row["operation"] == operation and row["deployment"].startswith(lands), row


def test_claude_code(setup: tuple[Proc, str, str], tmp_path: Path) -> None:
    gw, lands, _ = setup
    session = claude(require("claude"), gw.url, tmp_path, PROMPT.format(tool="Bash"))
    assert session.returncode == 0 and session.result is not None, session.explain()
    result = session.result
    assert result["is_error"] is False and result["subtype"] == "success", session.explain()
    assert result["num_turns"] == 2  # the tool call, then the answer
    assert "turnout-ok" in result["result"], session.explain()  # the command really ran
    rows = request_rows(gw.url, "anthropic", 2)
    _answered(rows, "messages", lands)
    assert all(r["stream"] for r in rows)
    assert rows[1]["input_tokens"] > rows[0]["input_tokens"]  # the tool result went back


def test_gemini_cli(setup: tuple[Proc, str, str], tmp_path: Path) -> None:
    gw, _, lands = setup
    session = gemini(require("gemini"), gw.url, tmp_path, PROMPT.format(tool="run_shell_command"))
    assert session.returncode == 0 and session.result is not None, session.explain()
    result = session.result
    assert "turnout-ok" in result["response"], session.explain()
    tools = result["stats"]["tools"]
    assert tools["totalCalls"] == 1 and tools["totalFail"] == 0, tools
    assert tools["byName"]["run_shell_command"]["success"] == 1, tools
    # The routing classifier (a structured-output call that must validate), then the tool
    # call and the answer, streamed.
    rows = request_rows(gw.url, "gemini", 3)
    _answered(rows, "generateContent", lands)
    assert [r["stream"] for r in rows] == [False, True, True]
