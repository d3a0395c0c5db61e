"""A relayed Responses stream must end with a terminal event (protocols/responses/ends.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from turnout.errors import StreamIncomplete
from turnout.protocols.responses.ends import Ended
from turnout.protocols.responses.errors import gateway_frame


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _drain(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in Ended(chunks)]


def _event(kind: str, n: int, spaced: bool = False) -> bytes:
    sep = ": " if spaced else ":"
    return f'event: {kind}\ndata: {{"type"{sep}"{kind}","sequence_number"{sep}{n}}}\n\n'.encode()


@pytest.mark.parametrize(
    "last", ["response.completed", "response.failed", "response.incomplete", "error"]
)
async def test_a_terminal_event_ends_the_stream(last: str) -> None:
    parts = (_event("response.created", 0), _event(last, 1, spaced=True))
    assert await _drain(_chunks(*parts)) == list(parts)


async def test_an_event_split_across_chunks_is_still_seen() -> None:
    whole = _event("response.created", 0) + _event("response.completed", 1)
    cut = whole.index(b"completed") - 3
    assert b"".join(await _drain(_chunks(whole[:cut], whole[cut:]))) == whole


async def test_a_stream_without_one_is_incomplete_numbered_after_the_last_event() -> None:
    parts = [_event("response.created", 0), _event("response.output_text.delta", 1)]
    parts.append(_event("response.output_text.delta", 12)[:-30])  # cut mid-number: 12
    parts.append(_event("response.output_text.delta", 12)[-30:])
    with pytest.raises(StreamIncomplete) as info:
        await _drain(_chunks(*parts))
    assert info.value.sequence_number == 13
    assert b'"sequence_number":13' in gateway_frame(info.value)


async def test_an_empty_stream_is_incomplete_with_the_largest_number() -> None:
    with pytest.raises(StreamIncomplete) as info:
        await _drain(_chunks())
    assert info.value.sequence_number is None
    assert b'"sequence_number":2147483647' in gateway_frame(info.value)
