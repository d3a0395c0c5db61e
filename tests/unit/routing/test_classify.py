from __future__ import annotations

from typing import Any

import orjson
import pytest

from turnout.config.compile import compile_rule
from turnout.config.providers import ErrorRule
from turnout.providers.registry import provider_type
from turnout.routing.classify import Classifier, by_status, retry_after

DEFAULT_RULES = {t: provider_type(t).error_rules for t in ("openai", "anthropic", "gemini")}


def _body(error: dict[str, Any]) -> bytes:
    return orjson.dumps({"error": error})


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, "invalid_key"), (403, "invalid_key"), (402, "no_quota"), (408, "timeout"),
        (429, "rate_limited"), (503, "overloaded"), (529, "overloaded"),
        (500, "server_error"), (502, "server_error"), (504, "server_error"),
        (400, "bad_request"), (404, "bad_request"), (413, "bad_request"), (422, "bad_request"),
    ],
)  # fmt: skip
def test_status_defaults(status: int, reason: str) -> None:
    assert by_status(status) == reason
    assert Classifier(()).classify(status, b"not json") == reason


def test_openai_defaults() -> None:
    c = Classifier(DEFAULT_RULES["openai"])
    assert c.classify(429, _body({"code": "insufficient_quota"})) == "no_quota"
    assert c.classify(429, _body({"code": "rate_limit_exceeded"})) == "rate_limited"
    assert c.classify(400, _body({"code": "context_length_exceeded"})) == "context_length"
    assert c.classify(400, _body({"code": "content_filter"})) == "content_filter"
    assert c.classify(400, _body({"code": None})) == "bad_request"


def test_anthropic_and_gemini_defaults() -> None:
    a = Classifier(DEFAULT_RULES["anthropic"])
    assert a.classify(400, _body({"message": "prompt is too long: 300000 tokens"})) == (
        "context_length"
    )
    assert a.classify(400, _body({"message": "Your credit balance is too low"})) == "no_quota"
    assert a.classify(529, _body({"type": "overloaded_error"})) == "overloaded"
    g = Classifier(DEFAULT_RULES["gemini"])
    body = _body({"code": 400, "message": "API key not valid. Please pass a valid API key."})
    assert g.classify(400, body) == "invalid_key"


def _rule(**kw: Any) -> Any:
    return compile_rule(ErrorRule.model_validate(kw))


def test_config_rules_map_a_400_with_a_code_to_no_quota() -> None:
    c = Classifier(
        (
            _rule(status=400, path="error.code", match="^quota_exceeded$", reason="no_quota"),
            *DEFAULT_RULES["openai"],
        )
    )
    assert c.classify(400, _body({"code": "quota_exceeded"})) == "no_quota"
    assert c.classify(400, _body({"code": "other"})) == "bad_request"
    assert c.classify(403, _body({"code": "quota_exceeded"})) == "invalid_key"


def test_highest_priority_wins_and_ties_keep_config_order() -> None:
    low = _rule(status=400, match="x", reason="content_filter", priority=1)
    high = _rule(status=400, match="x", reason="no_quota", priority=9)
    assert Classifier((low, high)).classify(400, b"x") == "no_quota"
    first = _rule(status=400, reason="overloaded")
    second = _rule(status=400, reason="server_error")
    assert Classifier((first, second)).classify(400, b"") == "overloaded"


def test_rule_paths_reach_into_lists_and_non_strings() -> None:
    body = orjson.dumps({"error": {"details": [{"reason": "API_KEY_INVALID"}], "n": 7}})
    assert Classifier((_rule(path="error.details.0.reason", match="KEY", reason="invalid_key"),)
                      ).classify(400, body) == "invalid_key"  # fmt: skip
    assert (
        Classifier((_rule(path="error.n", match="^7$", reason="no_quota"),)).classify(400, body)
        == "no_quota"
    )
    assert (
        Classifier((_rule(path="error.absent", reason="no_quota"),)).classify(400, body)
        == "bad_request"
    )


def test_retry_after_forms() -> None:
    cap = 3600.0
    assert retry_after([(b"retry-after", b"7")], cap) == 7
    assert retry_after([(b"retry-after", b"1.5")], cap) == 1.5
    assert retry_after([(b"retry-after-ms", b"250"), (b"retry-after", b"9")], cap) == 0.25
    assert retry_after([(b"retry-after", b"soon")], cap) is None
    assert retry_after([], cap) is None
    date = retry_after([(b"retry-after", b"Wed, 21 Oct 2015 07:28:00 GMT")], cap)
    assert date == 0.0


@pytest.mark.parametrize(
    ("header", "value", "seconds"),
    [
        (b"retry-after", b"inf", 60.0),
        (b"retry-after", b"1e12", 60.0),
        (b"retry-after", b"Fri, 31 Dec 9999 23:59:59 GMT", 60.0),
        (b"retry-after", b"nan", 0.0),
        (b"retry-after", b"-5", 0.0),
        (b"retry-after-ms", b"1e400", 60.0),
        (b"retry-after-ms", b"-nan", 0.0),
        (b"retry-after", b"30", 30.0),
    ],
)
def test_an_upstreams_retry_after_is_capped(header: bytes, value: bytes, seconds: float) -> None:
    """An upstream's 429 cools its key down for as long as it says, up to the cap
    (``routing.cooldowns.max_retry_after``): never for good."""
    assert retry_after([(header, value)], 60.0) == seconds
