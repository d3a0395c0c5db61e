"""Token counts read from an upstream's usage: whatever the JSON holds, a count is an integer
from 0 to 2**53, in every protocol's reader."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from turnout.ir.response import MAX_COUNT, Usage, count, maybe_count, section
from turnout.protocols.anthropic.response import usage_to_ir as anthropic_usage
from turnout.protocols.gemini.response import usage_to_ir as gemini_usage
from turnout.protocols.openai.response import usage_to_ir as openai_usage
from turnout.protocols.responses.response import usage_to_ir as responses_usage
from turnout.providers.converse import _usage as converse_usage

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
    return type(n) is int and 0 <= n <= 8 * MAX_COUNT  # a sum of a few counts at most


@given(JSON_VALUES)
def test_a_count_is_a_non_negative_integer_or_zero(value: Any) -> None:
    n = count(value)
    assert type(n) is int and 0 <= n <= MAX_COUNT
    if type(value) is int and 0 <= value <= MAX_COUNT:
        assert n == value
    assert maybe_count(value) == (None if value is None else n)
    assert section(value) == (value if isinstance(value, dict) else {})


def test_what_counts() -> None:
    assert [count(v) for v in (7, 7.0, 7.5, -1, True, "7", [7], None, MAX_COUNT + 1)] == [
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
    assert all(_valid(n) for n in converse_usage(raw).values())
