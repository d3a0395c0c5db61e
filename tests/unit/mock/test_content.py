from __future__ import annotations

import base64
import math
import struct
from typing import Any

import pytest

from turnout.mock.content import (
    count_chars,
    count_signatures,
    embedding,
    embedding_base64,
    estimate_tokens,
    schema_example,
    text_pieces,
)


def test_text_pieces_are_words_joined_with_spaces() -> None:
    pieces = text_pieces(5)
    assert len(pieces) == 5
    assert "".join(pieces) == "Lorem ipsum dolor sit amet"
    assert text_pieces(0) == []
    assert len(text_pieces(200)) == 200  # cycles past the word list


@pytest.mark.parametrize(("chars", "tokens"), [(0, 1), (1, 1), (4, 1), (5, 2), (400, 100)])
def test_estimate_tokens(chars: int, tokens: int) -> None:
    assert estimate_tokens(chars) == tokens


def test_count_chars_skips_media_and_ids() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "abcd"}]},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "data:" + "A" * 999}}],
        },
        {"role": "assistant", "content": "efgh", "id": "ignored-id"},
    ]
    assert count_chars(messages) == 8


def test_count_signatures() -> None:
    obj = [
        {"type": "thinking", "thinking": "x", "signature": "sig"},
        {"parts": [{"functionCall": {"name": "f"}, "thoughtSignature": "s2"}, {"text": "t"}]},
        {"signature": ""},
    ]
    assert count_signatures(obj) == 2


def test_embedding_is_deterministic_unit_vector() -> None:
    a, b, c = embedding("hello", 8), embedding("hello", 8), embedding("world", 8)
    assert a == b != c
    assert len(a) == 8
    assert math.isclose(math.sqrt(sum(x * x for x in a)), 1.0, abs_tol=1e-4)
    decoded = struct.unpack("<8f", base64.b64decode(embedding_base64(a)))
    assert all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(decoded, a, strict=True))


WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 3, "maximum": 10},
        "ratio": {"type": "number", "exclusiveMaximum": 1},
        "alerts": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "where": {
            "type": "object",
            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
            "required": ["lat", "lon"],
        },
        "optional": {"type": "string"},
    },
    "required": ["city", "unit", "days", "ratio", "alerts", "tags", "where"],
}


def test_schema_example_fills_required_properties_by_type() -> None:
    assert schema_example(WEATHER) == {
        "city": "example",
        "unit": "celsius",
        "days": 3,
        "ratio": 0.5,
        "alerts": True,
        "tags": ["example", "example"],
        "where": {"lat": 1, "lon": 1},
    }


def test_schema_example_gemini_upper_case_types() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "n": {"type": "INTEGER"},
            "xs": {"type": "ARRAY", "items": {"type": "BOOLEAN"}},
        },
        "required": ["n", "xs"],
    }
    assert schema_example(schema) == {"n": 1, "xs": [True]}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"const": 7}, 7),
        ({"type": ["null", "integer"]}, 1),
        ({"anyOf": [{"type": "null"}, {"type": "boolean"}]}, True),
        ({"type": "string", "format": "date"}, "2024-01-01"),
        ({"type": "string", "minLength": 10}, "examplexxx"),
        ({"type": "string", "maxLength": 3}, "exa"),
        ({"type": "integer", "exclusiveMinimum": 5}, 6),
        ({"type": "object"}, {}),
        ({}, "example"),
        (
            {
                "type": "object",
                "properties": {"p": {"$ref": "#/$defs/P"}},
                "required": ["p"],
                "$defs": {"P": {"type": "integer", "minimum": 42}},
            },
            {"p": 42},
        ),
        (
            {"allOf": [{"properties": {"a": {"type": "integer"}}}, {"required": ["a"]}]},
            {"a": 1},
        ),
    ],
)
def test_schema_example_cases(schema: dict[str, Any], expected: Any) -> None:
    assert schema_example(schema) == expected


def test_schema_example_survives_recursive_refs() -> None:
    schema = {
        "type": "object",
        "properties": {"node": {"$ref": "#"}},
        "required": ["node"],
    }
    value = schema_example(schema)
    assert isinstance(value, dict) and "node" in value
