"""Cache keys: everything that changes an answer is in, nothing else is."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.cache.helpers import PROMPTS, make_call
from turnout.cache.keys import make_key, namespace


def key(protocol: str, data: dict[str, Any], **kw: Any) -> str:
    k = make_key(make_call(protocol, data, **kw), "")
    assert k is not None
    return k.digest


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON with every object's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


RICH: dict[str, dict[str, Any]] = {
    "openai": {
        "model": "m",
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "extra": {"a": 1, "b": 2}}],
            },
        ],
        "temperature": 0.2,
        "max_tokens": 50,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"b": 1, "a": 2}},
        },
    },
    "anthropic": {
        "model": "m",
        "max_tokens": 50,
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "temperature": 0.2,
    },
    "gemini": {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 50, "topK": 3},
    },
}


@pytest.mark.parametrize("protocol", list(RICH))
@given(seed=st.integers(0, 2**32 - 1))
def test_key_order_never_matters(protocol: str, seed: int) -> None:
    data = RICH[protocol]
    assert key(protocol, shuffled(copy.deepcopy(data), random.Random(seed))) == key(protocol, data)


@pytest.mark.parametrize(
    ("protocol", "extra"),
    [
        ("openai", {"user": "alice"}),
        ("openai", {"metadata": {"run": "7"}}),
        ("openai", {"stream_options": {"include_usage": True}}),
        ("openai", {"store": True, "service_tier": "flex", "prompt_cache_key": "k"}),
        ("openai", {"safety_identifier": "s"}),
        ("anthropic", {"metadata": {"user_id": "u"}}),
        ("anthropic", {"service_tier": "auto"}),
        ("gemini", {"labels": {"team": "x"}}),
    ],
)
def test_fields_that_do_not_change_the_answer_are_ignored(
    protocol: str, extra: dict[str, Any]
) -> None:
    base = PROMPTS[protocol]
    assert key(protocol, {**base, **extra}) == key(protocol, base)


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini"])
def test_stream_flag_is_not_in_the_key(protocol: str) -> None:
    base = PROMPTS[protocol]
    assert key(protocol, base, stream=True) == key(protocol, base, stream=False)


@pytest.mark.parametrize(
    ("protocol", "change"),
    [
        ("openai", {"temperature": 0.3}),
        ("openai", {"max_tokens": 10}),
        ("openai", {"max_completion_tokens": 10}),
        ("openai", {"top_p": 0.5}),
        ("openai", {"seed": 1}),
        ("openai", {"stop": ["x"]}),
        ("openai", {"tools": [{"type": "function", "function": {"name": "f"}}]}),
        ("openai", {"tool_choice": "none"}),
        ("openai", {"response_format": {"type": "json_object"}}),
        ("openai", {"reasoning_effort": "high"}),
        ("openai", {"n": 2}),
        ("openai", {"messages": [{"role": "user", "content": "hello there!"}]}),
        ("openai", {"a_new_vendor_parameter": 1}),
        ("anthropic", {"max_tokens": 65}),
        ("anthropic", {"system": "be brief"}),
        ("anthropic", {"thinking": {"type": "enabled", "budget_tokens": 1024}}),
        ("anthropic", {"tools": [{"name": "f", "input_schema": {}}]}),
        ("anthropic", {"tool_choice": {"type": "any"}}),
        ("anthropic", {"stop_sequences": ["x"]}),
        ("anthropic", {"top_k": 5}),
        ("gemini", {"generationConfig": {"temperature": 0.1}}),
        ("gemini", {"safetySettings": [{"category": "X", "threshold": "BLOCK_NONE"}]}),
        ("gemini", {"tools": [{"functionDeclarations": [{"name": "f"}]}]}),
        ("gemini", {"systemInstruction": {"parts": [{"text": "x"}]}}),
        ("gemini", {"cachedContent": "cachedContents/1"}),
    ],
)
def test_every_output_affecting_field_changes_the_key(
    protocol: str, change: dict[str, Any]
) -> None:
    base = PROMPTS[protocol]
    assert key(protocol, {**base, **change}) != key(protocol, base)


def test_model_protocol_and_operation_are_in_the_key() -> None:
    data = PROMPTS["openai"]
    assert key("openai", data, model="a") != key("openai", data, model="b")
    assert key("openai", data) != key("openai", data, operation="embeddings")
    # The same JSON sent to another protocol's endpoint is another request.
    assert key("openai", {"messages": []}) != key("anthropic", {"messages": []})


def test_integral_floats_equal_ints() -> None:
    assert key("openai", {**PROMPTS["openai"], "temperature": 1.0}) == key(
        "openai", {**PROMPTS["openai"], "temperature": 1}
    )
    g = PROMPTS["gemini"]
    assert key("gemini", {**g, "generationConfig": {"temperature": 0.0}}) == key(
        "gemini", {**g, "generationConfig": {"temperature": 0}}
    )


def test_anthropic_beta_and_version_headers_are_in_the_key() -> None:
    data = PROMPTS["anthropic"]
    plain = key("anthropic", data)
    beta = key("anthropic", data, headers={b"anthropic-beta": b"output-128k-2025-02-19"})
    version = key("anthropic", data, headers={b"anthropic-version": b"2023-06-01"})
    assert len({plain, beta, version}) == 3
    # Other headers (SDK telemetry, request ids) are not.
    assert key("anthropic", data, headers={b"x-stainless-retry-count": b"1"}) == plain


@pytest.mark.parametrize("protocol", ["openai", "gemini"])
def test_headers_a_provider_passes_upstream_are_in_every_protocols_key(protocol: str) -> None:
    """An OpenAI client's ``anthropic-beta`` reaches an Anthropic upstream (translated) as it
    came and may change the answer: with a provider that passes it, it is in the key."""
    data = PROMPTS[protocol]
    passed = frozenset({b"anthropic-beta", b"anthropic-version", b"openai-beta"})

    def digest(headers: dict[bytes, bytes]) -> str:
        k = make_key(make_call(protocol, data, headers=headers), "", passed)
        assert k is not None
        return k.digest

    plain = key(protocol, data)
    assert digest({}) == plain  # a call without them keeps its key
    beta = digest({b"anthropic-beta": b"output-128k-2025-02-19"})
    other = digest({b"anthropic-beta": b"interleaved-thinking-2025-05-14"})
    assert len({plain, beta, other}) == 3
    assert digest({b"x-stainless-retry-count": b"1"}) == plain
    # Without a provider that passes it, the header goes nowhere and changes nothing.
    call = make_call(protocol, data, headers={b"anthropic-beta": b"output-128k-2025-02-19"})
    assert (k := make_key(call, "")) is not None and k.digest == plain


def test_the_passed_headers_are_those_of_the_configured_providers_types() -> None:
    from types import SimpleNamespace

    from turnout.cache.keys import passed_headers

    def runtime(*types: str) -> Any:
        specs = {t: SimpleNamespace(type=t) for t in types}
        return SimpleNamespace(providers=specs)

    assert passed_headers(runtime("mock", "gemini")) == frozenset()
    assert passed_headers(runtime("openai", "anthropic")) == {
        b"openai-beta",
        b"anthropic-beta",
        b"anthropic-version",
    }


@pytest.mark.parametrize(
    ("protocol", "extra"),
    [
        ("openai", {"n": 2}),
        ("openai", {"logprobs": True}),
        ("openai", {"modalities": ["text", "audio"]}),
        ("anthropic", {"tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
        ("gemini", {"generationConfig": {"candidateCount": 2}}),
        ("gemini", {"tools": [{"googleSearch": {}}]}),
    ],
)
def test_answers_the_ir_cannot_carry_are_kept_per_form(
    protocol: str, extra: dict[str, Any]
) -> None:
    data = {**PROMPTS[protocol], **extra}
    k = make_key(make_call(protocol, data), "")
    assert k is not None and not k.cross
    assert key(protocol, data, stream=True) != key(protocol, data, stream=False)


def test_cross_servable_by_default() -> None:
    for protocol, data in PROMPTS.items():
        k = make_key(make_call(protocol, data), "")
        assert k is not None and k.cross


def test_namespaces_separate_keys() -> None:
    call = make_call("openai", PROMPTS["openai"])
    assert namespace(call, "shared") == ""
    assert namespace(call, "team") == "-"  # no team known: the anonymous namespace
    call.team = "red"
    red = make_key(call, namespace(call, "team"))
    call.team = "blue"
    blue = make_key(call, namespace(call, "team"))
    assert red is not None and blue is not None and red.digest != blue.digest
    call.key_id = "k1"
    assert namespace(call, "key") == "key:k1"
    assert namespace(call, "team") == "team:blue"
    call.team = None  # a key without a team is a tenant of its own, never the shared "-"
    assert namespace(call, "team") == "key:k1"


def test_operations_that_are_never_cached() -> None:
    assert (
        make_key(make_call("anthropic", PROMPTS["anthropic"], operation="count_tokens"), "") is None
    )
    assert make_key(make_call("gemini", PROMPTS["gemini"], operation="countTokens"), "") is None


def test_embeddings_are_cached() -> None:
    call = make_call("openai", {"model": "e", "input": "x"}, operation="embeddings")
    k = make_key(call, "")
    assert k is not None and not k.cross


@pytest.mark.parametrize(
    ("protocol", "unset"),
    [
        ("gemini", {"generationConfig": {}}),  # what google-genai sends for an empty config
        ("gemini", {"generationConfig": {"temperature": None}}),
        ("openai", {"temperature": None, "tools": None}),
        ("anthropic", {"system": None, "tools": []}),
    ],
)
def test_null_and_empty_fields_mean_unset(protocol: str, unset: dict[str, Any]) -> None:
    assert key(protocol, {**PROMPTS[protocol], **unset}) == key(protocol, PROMPTS[protocol])


def test_zero_and_false_are_values_not_unset() -> None:
    base = PROMPTS["openai"]
    assert key("openai", {**base, "temperature": 0}) != key("openai", base)
    assert key("openai", {**base, "parallel_tool_calls": False}) != key("openai", base)
