"""The results relay: chunks pass unchanged, lines are counted wherever the chunks cut them,
hostile or oversized lines are relayed but not counted, lines counted before are skipped."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import orjson
import pytest

from turnout.batches import accounting
from turnout.batches.accounting import Tally
from turnout.batches.store import BatchRecord, MemoryBatchStore
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


@pytest.mark.parametrize(
    "raw",
    [
        b'{"custom_id": 7, "result": {"type": "succeeded", "message": {"model": "up"}}}',
        b'{"custom_id": null, "result": []}',
        b'{"custom_id": "a", "result": "succeeded"}',
        b'{"custom_id": "a", "result": null}',
        b'{"custom_id": "a", "result": 1e400}',
        b'{"custom_id": ["a"], "result": {"type": ["succeeded"]}}',
        b'{"custom_id": "a", "result": {"type": "succeeded", "message": "m"}}',
        b'{"custom_id": "a", "result": {"type": "succeeded", "message": {"usage": [1]}}}',
        b'{"custom_id": "a", "result": {"type": "succeeded", "message": {"usage": "9"}}}',
        b'{"custom_id": "a", "result": {"type": "succeeded", "message": {"model": 5}}}',
        b"[1, 2]",
        b'"a string"',
        b"12345678901234567890123456789",
    ],
)
async def test_a_line_of_wrong_types_is_relayed_and_never_fails_the_relay(raw: bytes) -> None:
    data = raw + b"\n" + line("ok", "up", 4, 2)
    tally = Tally({"up": "pub"}, 0)
    assert await relay(tally, data, 5) == data
    assert tally.lines == 2 and total(tally, "pub").input_tokens == 4


@pytest.mark.parametrize(
    ("value", "counted"),
    [(-5, 0), (10**30, 0), (2**31, 0), (3.0, 3), (3.5, 0), (True, 0), ("7", 0), (None, 0)],
)
async def test_usage_numbers_of_any_type_count_as_tokens_or_nothing(
    value: object, counted: int
) -> None:
    usage = {"input_tokens": value, "output_tokens": value, "cache_read_input_tokens": value}
    message = {"model": "up", "usage": usage}
    result = {"type": "succeeded", "message": message}
    raw = json.dumps({"custom_id": "a", "result": result}).encode()  # orjson: 64-bit only
    tally = Tally({"up": "pub"}, 0)
    await relay(tally, raw + b"\n", 3)
    got = total(tally, "pub") if "pub" in tally.usage else Usage()
    assert got.output_tokens == counted and got.cached_tokens == counted
    assert got.input_tokens == 2 * counted  # Anthropic's input excludes its cache reads


async def test_no_request_log_row_holds_more_tokens_than_its_columns() -> None:
    """Before, one row per model summed the whole read: 25 lines of 100 million input tokens
    were one row of 2.5 billion, past the request log's 32-bit columns (PostgreSQL refused the
    row, and with it the writer's batch)."""
    data = b"".join(line(str(i), "up", 100_000_000, 1) for i in range(25))
    tally = Tally({"up": "pub"}, 0)
    await relay(tally, data, 1 << 20)
    rows = tally.usage["pub"]
    assert all(r.input_tokens <= accounting.ROW_TOKENS < 2**31 for r in rows)
    assert total(tally, "pub").input_tokens == 2_500_000_000 and len(rows) == 3


async def test_lines_past_a_batchs_most_requests_are_relayed_not_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(accounting, "MAX_LINES", 3)
    data = b"".join(line(str(i), "up", 10, 1) for i in range(5))
    tally = Tally({"up": "pub"}, 0)
    assert await relay(tally, data, 9) == data
    assert tally.lines == 5 and tally.unread == 2 and total(tally, "pub").input_tokens == 30


async def test_reads_at_the_same_time_claim_each_line_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two reads of one results file, interleaved chunk by chunk and claiming every two lines
    on one store: each line's usage is in exactly one of them."""
    monkeypatch.setattr(accounting, "CLAIM_EVERY", 2)
    store = MemoryBatchStore()
    await store.put(BatchRecord("b1", "", "an", "", b'{"up":"pub"}', time.time(), b"{}"))
    data = b"".join(line(str(i), "up", i + 1, 1) for i in range(9))

    async def claim(seen: int, lines: int) -> int:
        return await store.claim("b1", seen, lines)

    first, second = Tally({"up": "pub"}, 0), Tally({"up": "pub"}, 0)
    late = chunks(data, 40)  # the second read starts a few lines behind
    ahead, behind = first.relay(chunks(data, 60), claim), second.relay(late, claim)
    done: set[str] = set()
    while len(done) < 2:
        for name, relay_ in (("a", ahead), ("b", behind)):
            if name not in done:
                try:
                    await relay_.__anext__()
                except StopAsyncIteration:
                    done.add(name)
    await first.claim(claim)
    await second.claim(claim)
    counted = [total(t, "pub").input_tokens for t in (first, second) if "pub" in t.usage]
    assert sum(counted) == sum(range(1, 10))
    got = await store.get("b1", None)
    assert got is not None and got.accounted == 9


async def test_a_store_that_fails_a_claim_leaves_the_lines_charged() -> None:
    """Never given away: a claim that cannot reach the store counts the read's lines."""

    async def broken(seen: int, lines: int) -> int:
        raise OSError("storage unreachable")

    tally = Tally({"up": "pub"}, 0)
    data = line("a", "up", 10, 3) + line("b", "up", 5, 2)
    assert b"".join([c async for c in tally.relay(chunks(data, 7), broken)]) == data
    await tally.claim(broken)
    assert total(tally, "pub").input_tokens == 15 and tally.mark == 2 and not tally.pending


async def test_a_claim_lost_to_a_read_ahead_keeps_only_the_lines_past_its_mark() -> None:
    found = iter([5, 5])  # another read counted five lines meanwhile; then this one wins

    async def claim(seen: int, lines: int) -> int:
        return next(found)

    tally = Tally({"up": "pub"}, 0)
    await relay_only(tally, b"".join(line(str(i), "up", 1 << i, 0) for i in range(8)))
    await tally.claim(claim)
    assert total(tally, "pub").input_tokens == (1 << 5) + (1 << 6) + (1 << 7)
    assert tally.mark == 8


async def relay_only(tally: Tally, data: bytes) -> None:
    async for _ in tally.relay(chunks(data, 13)):
        pass
