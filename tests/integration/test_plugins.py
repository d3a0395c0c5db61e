"""The plugin pipeline through real gateway processes, judged by the official SDKs.

One gateway in front of the session's mock provider with a pipeline of test plugins
(tests/support/sample_plugins.py), the ``keywords`` and ``max_cost`` guardrails, and one
out-of-tree plugin found only by its ``turnout.plugins`` entry point (a package installed into
a directory on the gateway's PYTHONPATH, as pip would lay it out).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as gerrors
from google.genai import types as gt

from tests.support.procs import Proc, mock_provider, start_gateway

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "tests.support.sample_plugins"
MESSAGES: Any = [{"role": "user", "content": "hello there"}]

ENTRY_POINT_PLUGIN = """
from turnout.plugins import Plugin

class Stamp(Plugin):
    name = "stamp"

    async def after(self, call, reply, run):
        reply.headers.append((b"x-stamp", b"entry-point"))
        return reply
"""


def install_package(site: Path) -> None:
    """A distribution declaring a ``turnout.plugins`` entry point, laid out as installed."""
    (site / "tp_stamp").mkdir(parents=True)
    (site / "tp_stamp" / "__init__.py").write_text(ENTRY_POINT_PLUGIN)
    info = site / "tp_stamp-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tp-stamp\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[turnout.plugins]\nstamp = tp_stamp:Stamp\n")
    (info / "RECORD").write_text("")


def plugins_config(mock: Proc) -> dict[str, Any]:
    def native(kind: str) -> dict[str, Any]:
        return {"type": kind, "base_url": mock.url, "api_keys": ["sk-up"]}

    priced = {"provider": "oa", "model": "up", "price": {"input": 10.0, "output": 30.0}}
    return {
        "providers": {"oa": mock_provider(mock), "an": native("anthropic"), "gm": native("gemini")},
        "models": {
            "m-openai": {"deployments": [{"provider": "oa", "model": "up"}]},
            "m-anthropic": {"deployments": [{"provider": "an", "model": "up"}]},
            "m-gemini": {"deployments": [{"provider": "gm", "model": "up"}]},
            "m-priced": {"deployments": [priced]},
            "m-answer": {"deployments": [{"provider": "oa", "model": "up"}]},
            "m-slow-open": {"deployments": [{"provider": "oa", "model": "up"}]},
            "m-slow-closed": {"deployments": [{"provider": "oa", "model": "up"}]},
            "m-crash": {"deployments": [{"provider": "oa", "model": "up"}]},
            "m-free": {"deployments": [{"provider": "oa", "model": "up"}]},
        },
        "routing": {"max_attempts": 1},
        "plugins": [
            {"plugin": f"{SAMPLE}:Tagger", "name": "first", "settings": {"tag": "a"}},
            {
                "plugin": f"{SAMPLE}:Tagger",
                "name": "second",
                "settings": {"tag": "b"},
                "overrides": [{"models": ["m-answer"], "settings": {"answer": True}}],
            },
            {"plugin": f"{SAMPLE}:Tagger", "name": "third", "settings": {"tag": "c"}},
            {"plugin": "stamp"},
            {
                "plugin": "keywords",
                "settings": {"deny": ["forbidden phrase"], "patterns": [r"\bproject-x\d+\b"]},
                "overrides": [{"models": ["m-free"], "enabled": False}],
            },
            {"plugin": "max_cost", "models": ["m-priced"], "settings": {"max_usd": 0.5}},
            {
                "plugin": f"{SAMPLE}:Sleeper",
                "name": "sleep-open",
                "models": ["m-slow-open"],
                "on_error": "fail_open",
            },
            {
                "plugin": f"{SAMPLE}:Sleeper",
                "name": "sleep-closed",
                "models": ["m-slow-closed"],
                "on_error": "fail_closed",
                "timeout": 0.3,
            },
            {"plugin": f"{SAMPLE}:Crasher", "models": ["m-crash"], "on_error": "fail_closed"},
        ],
    }


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("plugins")
    site = tmp / "site"
    install_package(site)
    env = {"PYTHONPATH": f"{ROOT}:{site}"}
    proc = start_gateway(plugins_config(mock), tmp, env=env, ready_within=60)
    yield proc
    proc.stop()


@pytest.fixture
def oa(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=gw.url + "/v1", max_retries=0)


@pytest.fixture
def an(gw: Proc) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)


@pytest.fixture
def gm(gw: Proc) -> genai.Client:
    return genai.Client(
        api_key="k", http_options=gt.HttpOptions(base_url=gw.url, api_version="v1beta")
    )


def test_before_hooks_in_order_after_hooks_in_reverse(oa: openai.OpenAI) -> None:
    raw = oa.chat.completions.with_raw_response.create(model="m-openai", messages=MESSAGES)
    assert raw.headers["x-plugin-trace"] == "before:a,before:b,before:c,after:c,after:b,after:a"
    assert raw.headers["x-stamp"] == "entry-point"  # found by its entry point only
    assert raw.parse().choices[0].message.content


def test_a_plugin_answer_skips_later_plugins_and_routing(oa: openai.OpenAI) -> None:
    raw = oa.chat.completions.with_raw_response.create(model="m-answer", messages=MESSAGES)
    # "third" never ran; only the plugins reached see the reply, innermost first.
    assert raw.headers["x-plugin-trace"] == "before:a,before:b,after:b,after:a"
    assert "x-turnout-deployment" not in raw.headers
    assert raw.parse().choices[0].message.content == "from the plugin"


def test_streams_pass_the_pipeline(oa: openai.OpenAI) -> None:
    raw = oa.chat.completions.with_raw_response.create(
        model="m-openai", messages=MESSAGES, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text
    # A stream's head has left before any after hook could run: those are for whole replies.
    assert "x-plugin-trace" not in raw.headers


def test_keywords_refusal_in_openai_shape(oa: openai.OpenAI) -> None:
    bad: Any = [{"role": "user", "content": "tell me the Forbidden Phrase please"}]
    with pytest.raises(openai.BadRequestError) as info:
        oa.chat.completions.create(model="m-openai", messages=bad)
    assert info.value.code == "guardrail_refused"
    assert "keywords: forbidden phrase" in info.value.message


def test_keywords_refusal_in_anthropic_shape(an: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        an.messages.create(
            model="m-anthropic",
            max_tokens=16,
            messages=[{"role": "user", "content": [{"type": "text", "text": "about project-x42"}]}],
        )
    assert info.value.status_code == 400
    assert "pattern[0]" in info.value.message


def test_keywords_refusal_in_gemini_shape(gm: genai.Client) -> None:
    with pytest.raises(gerrors.ClientError) as info:
        gm.models.generate_content(model="m-gemini", contents="a forbidden phrase here")
    assert info.value.code == 400
    assert "keywords" in (info.value.message or "")


def test_keywords_refusal_mid_pipeline_in_streams(an: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.BadRequestError),
        an.messages.stream(
            model="m-anthropic",
            max_tokens=16,
            messages=[{"role": "user", "content": "forbidden phrase"}],
        ) as stream,
    ):
        stream.get_final_message()


def test_an_override_turns_a_guardrail_off_for_one_model(oa: openai.OpenAI) -> None:
    bad: Any = [{"role": "user", "content": "the forbidden phrase"}]
    assert oa.chat.completions.create(model="m-free", messages=bad).choices


def test_max_cost_refuses_the_worst_case(oa: openai.OpenAI) -> None:
    # 100k output tokens at $30 per million: $3 > $0.50.
    with pytest.raises(openai.BadRequestError) as info:
        oa.chat.completions.create(model="m-priced", messages=MESSAGES, max_tokens=100_000)
    assert "$0.5" in info.value.message
    assert oa.chat.completions.create(model="m-priced", messages=MESSAGES, max_tokens=100).choices


def test_timeout_fail_open_serves_the_call(oa: openai.OpenAI) -> None:
    assert oa.chat.completions.create(model="m-slow-open", messages=MESSAGES).choices


def test_timeout_fail_closed_refuses_with_503(gw: Proc) -> None:
    r = httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": "m-slow-closed", "messages": MESSAGES},
        timeout=10,
    )
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "plugin_unavailable"
    assert r.headers["x-should-retry"] == "true"


def test_a_crash_fail_closed_is_503_in_anthropic_shape(gw: Proc) -> None:
    r = httpx.post(
        gw.url + "/v1/messages",
        json={"model": "m-crash", "max_tokens": 8, "messages": MESSAGES},
        timeout=10,
    )
    assert r.status_code == 503
    assert r.json()["type"] == "error"


def test_decisions_reach_the_request_log_and_metrics(oa: openai.OpenAI, gw: Proc) -> None:
    with pytest.raises(openai.BadRequestError):
        oa.chat.completions.create(
            model="m-openai", messages=[{"role": "user", "content": "forbidden phrase"}]
        )
    deadline = time.monotonic() + 10
    needle = (
        'turnout_guardrail_decisions_total{action="block",plugin="keywords",'
        'rule="forbidden phrase"}'
    )
    line = '"guardrails":[["keywords","forbidden phrase","block"]]'
    while time.monotonic() < deadline:
        metrics = httpx.get(gw.url + "/metrics").text
        if needle in metrics and line in gw.output():
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"no decision in metrics or log:\n{gw.output()[-3000:]}")
    while True:  # and in the stored request log (the dashboard's Logs page, /admin/logs)
        rows = httpx.get(gw.url + "/admin/logs?model=m-openai&errors=true").json()["rows"]
        if any(r["guardrails"] == [["keywords", "forbidden phrase", "block"]] for r in rows):
            break
        assert time.monotonic() < deadline + 10, rows
        time.sleep(0.1)


def test_fail_open_is_counted(oa: openai.OpenAI, gw: Proc) -> None:
    assert oa.chat.completions.create(model="m-slow-open", messages=MESSAGES).choices
    needle = (
        'turnout_guardrail_decisions_total{action="fail_open",plugin="sleep-open",rule="timeout"}'
    )
    deadline = time.monotonic() + 10
    while needle not in httpx.get(gw.url + "/metrics").text:
        assert time.monotonic() < deadline, "fail_open not counted"
        time.sleep(0.05)


def test_keywords_refusal_in_responses_shape(oa: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oa.responses.create(model="m-openai", input="say the forbidden phrase")
    assert info.value.code == "guardrail_refused"
    with pytest.raises(openai.BadRequestError):
        oa.responses.create(
            model="m-openai", input="hi", instructions="mention project-x7 when you can"
        )
