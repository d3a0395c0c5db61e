"""The check of an object an upstream answers with: a file or batch kept and listed must be
small enough to keep (every listing holds a page of them)."""

from __future__ import annotations

import orjson
import pytest

from turnout.errors import UpstreamInvalid
from turnout.openai_batches.common import MOST_BYTES, checked


@pytest.mark.parametrize("kind", ["file", "batch"])
def test_an_object_past_its_bound_is_the_upstreams_fault(kind: str) -> None:
    fits = orjson.dumps({"id": "x-1", "pad": "p" * (MOST_BYTES[kind] - 100)})
    assert checked(fits, kind, "x-1")["id"] == "x-1"
    over = orjson.dumps({"id": "x-1", "pad": "p" * MOST_BYTES[kind]})
    with pytest.raises(UpstreamInvalid):
        checked(over, kind, "x-1")
