"""The results relay: chunks pass unchanged, lines are counted wherever the chunks cut them,
hostile or oversized lines are relayed but not counted, lines counted before are skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from turnout.batches import accounting
from turnout.batches.accounting import Tally
from turnout.types import Usage


def line(custom_id: str, model: str, inp: int, out: int, kind: str = "succeeded") -> bytes:
    message = {"model": model, "usage": {"input_tokens": inp, "output_tokens": out}}
    result = {"type": kind, "message": message} if kind == "succeeded" else {"type": kind}
    return orjson.dumps({"custom_id": custom_id, "result": result}) + b"\n"


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def relay(tally: Tally, data: bytes, size: int) -> bytes:
    """The relay of a read alone (no store): its lines past the mark are its own."""
    out = b"".join([c async for c in tally.relay(chunks(data, size))])
    await tally.claim(None)
    return out


def total(tally: Tally, model: str) -> Usage:
    rows = tally.usage[model]
    return Usage(
        sum(u.input_tokens for u in rows),
        sum(u.output_tokens for u in rows),
        sum(u.cached_tokens for u in rows),
        sum(u.reasoning_tokens for u in rows),
    )


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
async def test_lines_are_counted_per_public_model_however_the_chunks_cut_them(size: int) -> None:
    data = (
        line("a", "up-a", 10, 3)
        + line("b", "up-b", 5, 2)
        + line("c", "up-a", 1, 1)
        + line("d", "up-a", 100, 100, kind="errored")
        + b'{"custom_id": "e", "result": {"type": "succeeded", "message": 7}}\n'
        + b"not json\n"
        + line("f", "unknown-up", 2, 2)[:-1]  # the last line without its newline
    )
    tally = Tally({"up-a": "pub-a", "up-b": "pub-b"}, 0)
    assert await relay(tally, data, size) == data
    assert tally.lines == 7 and tally.unread == 2
    assert total(tally, "pub-a").input_tokens == 10 + 1 + 2  # an unknown name: the first model
    assert total(tally, "pub-a").output_tokens == 3 + 1 + 2
    assert total(tally, "pub-b").input_tokens == 5


async def test_lines_counted_before_are_skipped() -> None:
    data = line("a", "up", 10, 3) + line("b", "up", 5, 2)
    tally = Tally({"up": "pub"}, 1)
    await relay(tally, data, 4)
    assert tally.lines == 2 and total(tally, "pub").input_tokens == 5


async def test_a_line_longer_than_the_bound_is_relayed_not_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(accounting, "MAX_LINE", 200)  # above one usual line
    # A line the relay would count if it held it whole.
    long = line("x", "up", 1000, 1000).replace(b'"model"', b'"pad":"' + b"p" * 500 + b'","model"')
    data = long + line("a", "up", 10, 3)
    tally = Tally({"up": "pub"}, 0)
    assert await relay(tally, data, 16) == data
    assert tally.lines == 2 and tally.unread == 1
    assert total(tally, "pub").input_tokens == 10
