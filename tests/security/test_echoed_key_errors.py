"""Words a client puts in an upstream's error must not mark the gateway's provider key.

Before: the default rules found a bad or exhausted key by searching free text: Gemini's whole
400 body for ``API_KEY_INVALID|API key not valid|API key expired`` and its message for
``billing|quota``, Anthropic's message for ``credit balance``. Upstreams quote what the
client sent in their 400s (Gemini: ``Unknown name "API_KEY_INVALID"``, ``Invalid value at
...``; Anthropic: ``Input tag 'credit balance' found using 'type'``), so one client could
have the gateway mark the shared key invalid (60 s) or out of quota (300 s), and every other
client got ``503 upstream_keys_rejected``. Now those rules read the structured fields
(``error.details[].reason``, ``error.status``) or a message's fixed opening.

A real gateway in front of the scripted upstream (it answers what a request's
``x-scripted-answer`` header names: here, the echoing 400), the official OpenAI SDK.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.security.answers import header
from tests.support.procs import Proc, start_gateway, start_scripted

MESSAGES: Any = [{"role": "user", "content": "hi"}]
GEMINI_OK = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}
    ],
    "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
}
ANTHROPIC_OK = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "ant-up",
    "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
    "usage": {"input_tokens": 1, "output_tokens": 1},
}  # fmt: skip


def _gemini_400(message: str) -> dict[str, Any]:
    return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}


def _anthropic_400(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


ECHOES = [
    ("gem", _gemini_400('Invalid JSON payload received. Unknown name "API_KEY_INVALID": '
                        "Cannot find field.")),
    ("gem", _gemini_400("Invalid value at 'contents[0].role' (TYPE_STRING), "
                        '"API key not valid"')),
    ("gem", _gemini_400('Invalid JSON payload received. Unknown name "quota" at '
                        "'generation_config': Cannot find field.")),
    ("ant", _anthropic_400("messages.0.content.0: Input tag 'credit balance' found using "
                           "'type' does not match any of the expected tags")),
]  # fmt: skip


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("echoes")
    script = {
        "gem-up": {"status": 200, "chunks": [json.dumps(GEMINI_OK)]},
        "ant-up": {"status": 200, "chunks": [json.dumps(ANTHROPIC_OK)]},
    }
    upstream = start_scripted(script, tmp)
    common = {"api_keys": ["k-00000001"], "forward_headers": ["x-scripted-*"]}
    kinds = {"gem": ("gemini", "gem-up"), "ant": ("anthropic", "ant-up")}
    # A provider (one key) per case: a key one case marked must not fail the next.
    config = {
        "providers": {
            f"p{i}": {"type": kinds[kind][0], "base_url": upstream.url, **common}
            for i, (kind, _) in enumerate(ECHOES)
        },
        "models": {
            f"m{i}": {"deployments": [{"provider": f"p{i}", "model": kinds[kind][1]}]}
            for i, (kind, _) in enumerate(ECHOES)
        },
    }
    proc = start_gateway(config, tmp)
    yield proc
    proc.stop()
    upstream.stop()


@pytest.mark.parametrize("case", range(len(ECHOES)), ids=["gem-name", "gem-value", "gem-quota",
                                                          "ant-tag"])  # fmt: skip
def test_an_echoed_word_is_the_clients_400_and_the_key_keeps_serving(
    gateway: Proc, case: int
) -> None:
    model, body = f"m{case}", ECHOES[case][1]
    client = openai.OpenAI(api_key="k", base_url=gateway.url + "/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=model, messages=MESSAGES, max_tokens=2, extra_headers=_answer_400(body)
        )
    # Everyone else, on the same (only) key: served.
    answer = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=2)
    assert answer.choices[0].message.content == "ok"


def _answer_400(body: dict[str, Any]) -> dict[str, str]:
    return header({"status": 400, "chunks": [json.dumps(body)]})
