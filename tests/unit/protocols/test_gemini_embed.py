"""The Gemini-to-OpenAI embeddings codec: what crosses, what is dropped, and hostile shapes
refused as 400s naming the field (never a codec crash, which would be a 500)."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.errors import BadRequest, TranslationUnsupported
from turnout.ir import Usage
from turnout.protocols.gemini.embed import request_to_openai, response_from_openai
from turnout.types import Call


def _call(data: Any, operation: str = "embedContent") -> Call:
    return Call(
        request_id="r", protocol="gemini", operation=operation, model="pub", stream=False,
        body=b"", data=data, headers={}, started=0.0, path="/v1beta/models/pub:" + operation,
    )  # fmt: skip


def test_single_request_with_dimensions() -> None:
    data = {
        "content": {"parts": [{"text": "hello"}]},
        "outputDimensionality": 4,
        "taskType": "SEMANTIC_SIMILARITY",
    }
    assert request_to_openai(_call(data), "up") == {
        "model": "up",
        "input": ["hello"],
        "encoding_format": "float",
        "dimensions": 4,
    }


def test_answer_and_usage() -> None:
    answer = {"data": [{"index": 0, "embedding": [0.1, 0.2]}], "usage": {"prompt_tokens": 3}}
    out, usage = response_from_openai(_call({}), answer)
    assert out == {"embedding": {"values": [0.1, 0.2]}}
    assert usage == Usage(input_tokens=3, total_tokens=3)
    out, usage = response_from_openai(_call({"requests": [{}]}, "batchEmbedContents"), answer)
    assert out == {"embeddings": [{"values": [0.1, 0.2]}]} and usage is not None


HOSTILE_SINGLE: list[tuple[Any, str]] = [
    ({}, "content"),
    ({"content": "hello"}, "content"),
    ({"content": {"parts": "hello"}}, "content.parts"),
    ({"content": {"parts": []}}, "content.parts"),
    ({"content": {"parts": [7]}}, "content.parts[0]"),
    ({"content": {"parts": [{"text": 7}]}}, "content.parts[0].text"),
    ({"content": {"parts": [{"text": ["a"]}]}}, "content.parts[0].text"),
    ({"content": {"parts": [{"text": "a"}]}, "outputDimensionality": "8"}, "outputDimensionality"),
    ({"content": {"parts": [{"text": "a"}]}, "outputDimensionality": True}, "outputDimensionality"),
    ({"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 0}, "outputDimensionality"),
    ({"content": {"parts": [{"text": "a"}]}, "taskType": 3}, "taskType"),
    ({"content": {"parts": [{"text": "a"}]}, "title": {}}, "title"),
]


@pytest.mark.parametrize(("data", "field"), HOSTILE_SINGLE)
def test_hostile_single_requests_are_400s(data: Any, field: str) -> None:
    with pytest.raises(BadRequest) as info:
        request_to_openai(_call(data), "up")
    assert info.value.param == field


HOSTILE_BATCH: list[tuple[Any, str]] = [
    ({}, "requests"),
    ({"requests": {}}, "requests"),
    ({"requests": []}, "requests"),
    ({"requests": ["hello"]}, "requests[0]"),
    ({"requests": [{"content": {"parts": [{"text": 1}]}}]}, "requests[0].content.parts[0].text"),
    (
        {"requests": [{"content": {"parts": [{"text": "a"}]}, "outputDimensionality": -1}]},
        "requests[0].outputDimensionality",
    ),
]


@pytest.mark.parametrize(("data", "field"), HOSTILE_BATCH)
def test_hostile_batches_are_400s(data: Any, field: str) -> None:
    with pytest.raises(BadRequest) as info:
        request_to_openai(_call(data, "batchEmbedContents"), "up")
    assert info.value.param == field


def test_what_openai_cannot_embed_is_named() -> None:
    image = {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]}}
    with pytest.raises(TranslationUnsupported, match=r"content\.parts\[0\]"):
        request_to_openai(_call(image), "up")
    mixed = {
        "requests": [
            {"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 4},
            {"content": {"parts": [{"text": "b"}]}},
        ]
    }
    with pytest.raises(TranslationUnsupported, match="outputDimensionality"):
        request_to_openai(_call(mixed, "batchEmbedContents"), "up")


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"data": "x"},
        {"data": [5]},
        {"data": [{"embedding": [True]}]},
        {"data": [{"embedding": "AAAA"}]},
        {"data": [{"index": "0", "embedding": [0.1]}]},
        {"data": [{"index": 3, "embedding": [0.1]}]},
        {"data": [{"embedding": [0.1]}, {"embedding": [0.2]}]},
    ],
)
def test_unreadable_answers_are_value_errors(answer: Any) -> None:
    with pytest.raises(ValueError):
        response_from_openai(_call({}), answer)
