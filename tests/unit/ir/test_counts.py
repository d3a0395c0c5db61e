"""Token counts read from an upstream's usage: whatever the JSON holds, a count is an integer
from 0 to MAX_TOKENS, in every protocol's reader, and what the gateway counts of it fits the
request log's 32-bit token columns."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from turnout.ir.response import MAX_TOKENS, Usage, count, maybe_count, section
from turnout.protocols.anthropic.response import usage_to_ir as anthropic_usage
from turnout.protocols.gemini.response import usage_to_ir as gemini_usage
from turnout.protocols.openai.response import usage_to_ir as openai_usage
from turnout.protocols.responses.response import usage_to_ir as responses_usage
from turnout.providers.converse import _usage as converse_usage
from turnout.usage.base import from_ir

INT4 = 2**31 - 1  # PostgreSQL's INTEGER: the request log's token columns

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
FIELDS = [
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cached_tokens",
    "reasoning_tokens",
    "input_tokens",
    "output_tokens",
    "input_tokens_details",
    "output_tokens_details",
    "cache_write_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "promptTokenCount",
    "toolUsePromptTokenCount",
    "candidatesTokenCount",
    "cachedContentTokenCount",
    "thoughtsTokenCount",
    "totalTokenCount",
    "inputTokens",
    "outputTokens",
    "cacheReadInputTokens",
    "cacheWriteInputTokens",
]
USAGES = st.dictionaries(
    st.sampled_from(FIELDS),
    JSON_VALUES | st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=3),
)


def _valid(n: object) -> bool:
    return type(n) is int and 0 <= n <= 8 * MAX_TOKENS  # a sum of a few counts at most


@given(JSON_VALUES)
def test_a_count_is_a_non_negative_integer_or_zero(value: Any) -> None:
    n = count(value)
    assert type(n) is int and 0 <= n <= MAX_TOKENS
    if type(value) is int and 0 <= value <= MAX_TOKENS:
        assert n == value
    assert maybe_count(value) == (None if value is None else n)
    assert section(value) == (value if isinstance(value, dict) else {})


def test_a_count_past_the_ceiling_counts_nothing() -> None:
    """Before: counts up to 2**53 were believed; from 2**31 on, PostgreSQL's request log could
    not store the row, and a few thousand such rows overflowed a rollup's 64-bit sum."""
    assert count(2**31) == 0 and count(2**53) == 0 and count(float(2**40)) == 0
    assert count(MAX_TOKENS) == MAX_TOKENS
    # A reader adds up to three counts into one (Anthropic's input and its two cache counts).
    assert 3 * MAX_TOKENS <= INT4


def test_what_counts() -> None:
    assert [count(v) for v in (7, 7.0, 7.5, -1, True, "7", [7], None, MAX_TOKENS + 1)] == [
        7,
        7,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ]


@given(USAGES | JSON_VALUES)
def test_every_protocols_usage_reader_gives_counts(raw: Any) -> None:
    for parse in (openai_usage, gemini_usage, responses_usage, anthropic_usage):
        usage = parse(raw)
        if usage is None:
            continue
        assert isinstance(usage, Usage)
        for name in (
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "cache_creation_tokens",
            "reasoning_tokens",
        ):
            assert _valid(getattr(usage, name)), (parse.__module__, name, raw)
        assert usage.total_tokens is None or _valid(usage.total_tokens)
        assert _valid(usage.total())
        counted = from_ir(usage)
        assert counted is not None
        for n in (counted.input_tokens, counted.output_tokens):
            assert 0 <= n <= INT4, (parse.__module__, raw)
    assert all(_valid(n) for n in converse_usage(raw).values())
