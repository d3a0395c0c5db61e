"""What counts as naming an object of the shared provider account (turnout.auth.objects)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from turnout.auth.objects import named_object


def _named(data: Any) -> str | None:
    return named_object(orjson.dumps(data), data)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            b'{"messages":[{"content":[{"type":"file","file":{"\\u0066ile_id":"file-1"}}]}]}',
            "file_id",
        ),
        (b'{"tools":[{"type":"file_search","vector_store_ids":["vs_1"]}]}', "vector_store_ids"),
        (b'{"prompt":{"id":"pmpt_1","version":"2"}}', "prompt"),
        (b'{"container":{"skills":[{"skill_id":"s"}]}}', "container"),
        (b'{"cachedContent":"cachedContents/x"}', "cachedContent"),
        (
            b'{"contents":[{"parts":[{"fileData":{"fileUri":"gs://bucket/secret.pdf"}}]}]}',
            "fileUri",
        ),
    ],
)
def test_named(body: bytes, field: str) -> None:
    assert named_object(body, orjson.loads(body)) == field


@pytest.mark.parametrize(
    "data",
    [
        {"messages": [{"role": "user", "content": 'my "file_id" is prose'}]},
        {"prompt": "a completion prompt is text"},
        {"contents": [{"parts": [{"fileData": {"fileUri": "https://youtu.be/x"}}]}]},
        {"file_id": None, "container": ""},
    ],
)
def test_not_named(data: Any) -> None:
    assert _named(data) is None
