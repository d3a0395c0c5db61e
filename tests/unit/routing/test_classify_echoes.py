"""Key and account verdicts of the default rules read structured fields, never free text a
client can have an upstream quote back (providers/gemini.py, providers/anthropic.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from turnout.providers.registry import provider_type
from turnout.routing.classify import Classifier


def _classify(kind: str, status: int, body: dict[str, Any]) -> str:
    return Classifier(provider_type(kind).error_rules).classify(status, orjson.dumps(body))


def _gemini(message: str, status: str = "INVALID_ARGUMENT", **extra: Any) -> dict[str, Any]:
    return {"error": {"code": 400, "message": message, "status": status, **extra}}


def _anthropic(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("gemini", _gemini('Invalid JSON payload received. Unknown name "API_KEY_INVALID": '
                           "Cannot find field.")),
        ("gemini", _gemini("Invalid value at 'contents[0].role' (TYPE_STRING), "
                           '"API key expired"')),
        ("gemini", _gemini('Invalid JSON payload received. Unknown name "billing" at '
                           "'generation_config': Cannot find field.")),
        ("gemini", _gemini("* GenerateContentRequest.model: unexpected model name format "
                           "quota-model")),
        ("vertex", _gemini('Unknown name "API_KEY_INVALID": Cannot find field.')),
        ("anthropic", _anthropic("messages.0.content.0: Input tag 'credit balance' found using "
                                 "'type' does not match any of the expected tags")),
        ("bedrock", _anthropic("Input tag 'Your credit balance' found using 'type'")),
    ],
)  # fmt: skip
def test_words_a_client_sent_are_its_own_bad_request(kind: str, body: dict[str, Any]) -> None:
    assert _classify(kind, 400, body) == "bad_request"


def test_the_upstreams_own_verdicts_still_mark_the_key() -> None:
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
    assert _classify("gemini", 400, _gemini("API key not valid. Please pass a valid API key.",
                                            details=[info])) == "invalid_key"  # fmt: skip
    assert _classify("gemini", 400, _gemini("Key rejected.", details=[{}, info])) == ("invalid_key")
    assert _classify("gemini", 400, _gemini("API key expired. Please renew the API key.")) == (
        "invalid_key"
    )
    billing = _gemini(
        "Gemini API free tier is not available in your country. Please enable billing on your "
        "project in Google AI Studio.",
        status="FAILED_PRECONDITION",
    )
    assert _classify("gemini", 400, billing) == "no_quota"
    low = _anthropic(
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
        "Billing to upgrade or purchase credits."
    )
    assert _classify("anthropic", 400, low) == "no_quota"
