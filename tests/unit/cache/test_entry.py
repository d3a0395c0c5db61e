"""The byte encoding of entries shared through Redis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.cache.entry import CorruptEntry, Entry, decode, encode
from turnout.types import Usage


@given(
    frames=st.lists(st.binary(max_size=64), min_size=1, max_size=20),
    usage=st.none() | st.builds(Usage, *(st.integers(0, 10**9),) * 4),
    include_usage=st.booleans(),
)
def test_stream_entries_roundtrip_frame_for_frame(
    frames: list[bytes], usage: Usage | None, include_usage: bool
) -> None:
    e = Entry("anthropic", "m/ü", True, frames=tuple(frames), stored_at=12.5, usage=usage,
              include_usage=include_usage, deployment="p/x")  # fmt: skip
    assert decode(encode(e)) == e


@given(body=st.binary(max_size=256))
def test_body_entries_roundtrip(body: bytes) -> None:
    e = Entry("gemini", "m", False, body=body, stored_at=1.0)
    assert decode(encode(e)) == e


@pytest.mark.parametrize("raw", [b"", b"XXXX\x00\x00\x00\x02{}", b"SYC1\x00\x00\x00\x05{}"])
def test_foreign_or_cut_bytes_are_refused(raw: bytes) -> None:
    with pytest.raises(CorruptEntry):
        decode(raw)


def test_truncated_payload_is_refused() -> None:
    raw = encode(Entry("openai", "m", False, body=b'{"a": 1}'))
    with pytest.raises(CorruptEntry):
        decode(raw[:-1])
