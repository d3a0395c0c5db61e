"""One gateway key sending distinct prompts must not push out the judge verdicts other keys'
requests hit again.

Before: the judge guardrails' verdict cache (``cache_size``) dropped its least recently used
verdict whoever had asked for it, so a key sending distinct prompts in a loop made every
other key's next request wait for the judge model again (and pay for it). Now the key holding
the most verdicts loses its own. A real gateway with a master key and keys made through the
admin API, the official OpenAI SDK, and a scripted upstream that counts the judge's requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.support.procs import Proc, keyed_openai, scripted_requests, start_gateway, start_scripted

MASTER = "turnout-master-key-for-judge-shares"
ADMIN = {"authorization": f"Bearer {MASTER}"}


def _completion(text: str) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    tmp = Path(tmp_path_factory.mktemp("judge"))
    upstream = start_scripted(
        {
            "judge": {"chunks": [_completion('{"injection": false}')]},
            "answer": {"chunks": [_completion("fine")]},
        },
        tmp,
    )
    provider = {"type": "openai-compatible", "base_url": upstream.url + "/v1", "api_keys": ["k"]}
    config = {
        "storage": {"enabled": False},
        "providers": {"scripted": provider},
        "models": {
            "guarded": {"deployments": [{"provider": "scripted", "model": "answer"}]},
            "judge": {"deployments": [{"provider": "scripted", "model": "judge"}]},
        },
        "plugins": [
            {
                "plugin": "prompt_injection",
                "models": ["guarded"],
                "settings": {"heuristics": False, "judge_model": "judge", "cache_size": 8},
            }
        ],
    }
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc, upstream
    proc.stop()
    upstream.stop()


def _key(gateway: Proc) -> openai.OpenAI:
    client: openai.OpenAI = keyed_openai(gateway, MASTER)
    return client


def _judged(upstream: Proc) -> int:
    return sum(1 for r in scripted_requests(upstream) if r["model"] == "judge")


def _ask(client: openai.OpenAI, text: str) -> None:
    answer = client.chat.completions.create(
        model="guarded", messages=[{"role": "user", "content": text}]
    )
    assert answer.choices[0].message.content == "fine"


def test_one_key_flooding_the_judge_keeps_only_its_own_verdicts_moving(
    gateway: tuple[Proc, Proc],
) -> None:
    proc, upstream = gateway
    alice, mallory = _key(proc), _key(proc)
    _ask(alice, "alice asks about the weather")
    assert _judged(upstream) == 1
    _ask(alice, "alice asks about the weather")
    assert _judged(upstream) == 1  # the verdict was cached
    for i in range(40):
        _ask(mallory, f"distinct prompt number {i}")
    assert _judged(upstream) == 41
    _ask(alice, "alice asks about the weather")
    assert _judged(upstream) == 41  # still cached: the flood pushed out only its own
    _ask(mallory, "distinct prompt number 0")
    assert _judged(upstream) == 42  # its oldest went
