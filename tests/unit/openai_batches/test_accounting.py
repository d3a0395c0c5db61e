"""An output file's relay: each line answered 200 adds its body's usage under the public
model; other answers, error lines and hostile lines count nothing; lines counted before are
skipped."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from turnout.openai_batches.accounting import OutputTally
from turnout.openai_batches.store import MemoryObjectStore, ObjectRecord


def line(custom_id: str, model: str, inp: int, out: int, status: int = 200) -> bytes:
    usage = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}
    body: Any = {"model": model, "usage": usage}
    response = {"status_code": status, "body": body}
    return orjson.dumps({"custom_id": custom_id, "response": response, "error": None}) + b"\n"


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
async def test_lines_answered_200_are_counted_per_public_model(size: int) -> None:
    data = (
        line("a", "up-a", 10, 3)
        + line("b", "up-b", 5, 2)
        + line("c", "up-a", 1, 1, status=429)
        + b'{"custom_id": "d", "response": null, "error": {"code": "x"}}\n'
        + b'{"custom_id": "e", "response": {"status_code": 200, "body": 7}}\n'
        + b"\x00not json\n"
        + line("f", "up-a", 2, 2)[:-1]  # the last line without its newline
    )
    tally = OutputTally({"up-a": "pub-a", "up-b": "pub-b"}, 0)
    relayed = b"".join([c async for c in tally.relay(chunks(data, size))])
    assert relayed == data
    await tally.claim(None)  # no store: the read's lines are its own
    assert tally.lines == 7 and tally.unread == 2
    [a], [b] = tally.usage["pub-a"], tally.usage["pub-b"]
    assert (a.input_tokens, a.output_tokens) == (12, 5)
    assert (b.input_tokens, b.output_tokens) == (5, 2)


async def test_lines_counted_before_are_skipped() -> None:
    data = line("a", "up-a", 10, 3) + line("b", "up-a", 5, 2)
    tally = OutputTally({"up-a": "pub-a"}, 1)
    _ = [c async for c in tally.relay(chunks(data, 5))]
    await tally.claim(None)
    assert tally.lines == 2
    [a] = tally.usage["pub-a"]
    assert (a.input_tokens, a.output_tokens) == (5, 2)


async def test_two_reads_at_once_count_each_line_once() -> None:
    """Two reads of one output file, interleaved chunk by chunk on one store: each line's
    usage is in exactly one of them (the compare-and-set claim Message Batches use)."""
    store = MemoryObjectStore()
    record = ObjectRecord("f1", "output", "", "an", "", b'{"up":"pub"}', "", time.time(), b"{}")
    await store.put(record)
    data = b"".join(line(str(i), "up", i + 1, 1) for i in range(9))

    async def claim(seen: int, lines: int) -> int:
        return await store.claim("f1", seen, lines)

    first, second = OutputTally({"up": "pub"}, 0), OutputTally({"up": "pub"}, 0)
    ahead, behind = first.relay(chunks(data, 60), claim), second.relay(chunks(data, 40), claim)
    done: set[str] = set()
    while len(done) < 2:
        for name, relay in (("a", ahead), ("b", behind)):
            if name not in done:
                try:
                    await relay.__anext__()
                except StopAsyncIteration:
                    done.add(name)
    await first.claim(claim)
    await second.claim(claim)
    counted = [sum(u.input_tokens for u in t.usage.get("pub", [])) for t in (first, second)]
    assert sum(counted) == sum(range(1, 10)), counted
