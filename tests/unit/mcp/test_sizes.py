from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from turnout.mcp.sizes import json_size

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(VALUES)
def test_the_size_of_any_json_the_sdk_parses(value: Any) -> None:
    """orjson's size where it can encode; where it cannot (an integer beyond 64 bits) the
    standard library's compact JSON, never an exception."""
    size = json_size(value)
    try:
        assert size == len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        assert size == len(compact.encode())


def test_integers_beyond_64_bits() -> None:
    assert json_size({"a": 10**30}) == len(b'{"a":1000000000000000000000000000000}')
