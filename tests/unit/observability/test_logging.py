from __future__ import annotations

import io
import time

import orjson

from turnout.observability.finish import Finished
from turnout.observability.logging import RequestLog
from turnout.types import Call, Usage


def _call(**kw: object) -> Call:
    call = Call(
        protocol="openai",
        operation="chat",
        model="gpt-x",
        body=b'{"model":"gpt-x"}',
        data={"model": "gpt-x"},
        stream=False,
        headers={b"authorization": b"Bearer sk-super-secret"},
        request_id="rid-1",
        started=time.perf_counter(),
    )
    for k, v in kw.items():
        setattr(call, k, v)
    return call


def test_one_json_line_per_request_without_secrets() -> None:
    log = RequestLog()
    sink = io.BytesIO()
    log._sink = sink
    log.record(_call(status=200, deployment="p/m", usage=Usage(3, 4), ttft=0.01), 0.02)
    log.record(_call(status=404, error="ModelNotFound"), 0.001)
    log.flush()
    lines = sink.getvalue().splitlines()
    assert len(lines) == 2
    first = orjson.loads(lines[0])
    assert first["request_id"] == "rid-1" and first["deployment"] == "p/m"
    assert first["input_tokens"] == 3 and first["output_tokens"] == 4
    assert first["latency_ms"] == 20.0 and first["ttft_ms"] == 10.0
    assert orjson.loads(lines[1])["error"] == "ModelNotFound"
    assert b"sk-super-secret" not in sink.getvalue()


def test_bounded_and_counts_drops() -> None:
    log = RequestLog(capacity=2)
    log._sink = io.BytesIO()
    for _ in range(5):
        log.record(_call(), 0.0)
    assert log.dropped == 3
    log.flush()
    assert log.dropped == 0


def test_disabled_records_nothing() -> None:
    log = RequestLog(enabled=False)
    log.record(_call(), 0.0)
    sink = io.BytesIO()
    log._sink = sink
    log.flush()
    assert sink.getvalue() == b""


class _Collect:
    def __init__(self) -> None:
        self.seen: list[Finished] = []

    def observe(self, finished: list[Finished]) -> None:
        self.seen.extend(finished)


class _Broken:
    def observe(self, finished: list[Finished]) -> None:
        raise RuntimeError("boom")


def test_sinks_get_finished_calls_even_without_stdout_lines() -> None:
    from turnout.observability.finish import Finisher
    from turnout.pricing import Price, PriceTable
    from turnout.protocols.anthropic.usage import AnthropicStream

    log = RequestLog(enabled=False)
    sink = io.BytesIO()
    log._sink = sink
    collect = _Collect()
    prices = PriceTable(overrides={"gpt-x": Price(1.0, 2.0)})
    log.attach(Finisher(prices, {}), [_Broken(), collect])
    observer = AnthropicStream()
    observer.feed(b'data: {"message":{"usage":{"input_tokens":3,"output_tokens":1}}}\n\n')
    observer.feed(b'data: {"usage":{"output_tokens":9}}\n\n')
    call = _call(status=200, stream=True, deployment="p/m")
    call.observer = observer
    log.inflight = 1
    log.record(call, 0.5)
    assert log.inflight == 0
    log.flush()
    [done] = collect.seen
    assert done.usage == Usage(3, 9) and call.usage == Usage(3, 9)
    assert done.cost == (3 * 1.0 + 9 * 2.0) / 1e6
    assert done.provider == "p"
    assert sink.getvalue() == b""


def test_a_full_slice_is_drained_on_the_next_loop_turn() -> None:
    """A slice of finished calls is drained at once, not after the 50 ms timer: draining a
    timer's worth of calls at once held the event loop for milliseconds (the c=1 p99). Its
    lines are held for the tick (one write per tick, not per slice)."""
    import asyncio

    from turnout.observability.logging import SLICE

    log = RequestLog()
    sink = io.BytesIO()
    log._sink = sink
    collect = _Collect()

    async def run() -> tuple[int, int, int, int]:
        from turnout.observability.finish import Finisher
        from turnout.pricing import PriceTable

        log.attach(Finisher(PriceTable(), {}), [collect])
        log.start()
        log.inflight = 10 * SLICE  # a busy gateway: other calls in flight
        for _ in range(SLICE - 1):
            log.record(_call(status=200), 0.001)
        await asyncio.sleep(0)
        partial = len(collect.seen)  # under a slice: waits for the timer
        log.record(_call(status=200), 0.001)
        await asyncio.sleep(0)
        full = len(collect.seen)
        written = len(sink.getvalue().splitlines())  # held until the tick
        for _ in range(3 * SLICE):
            log.record(_call(status=200), 0.001)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        await log.stop()
        return partial, full, written, len(sink.getvalue().splitlines())

    partial, full, written, total = asyncio.run(run())
    assert (partial, full, written, total) == (0, SLICE, 0, 4 * SLICE)
    assert len(collect.seen) == 4 * SLICE
    for _ in range(SLICE):  # stopped, its loop closed: calls still finish, nothing scheduled
        log.record(_call(status=200), 0.001)
    log.flush()
    assert len(sink.getvalue().splitlines()) == 5 * SLICE


def test_an_idle_gateway_drains_a_call_on_the_next_loop_turn() -> None:
    """With no other call in flight the drain runs at once, while the client reads its
    answer: a slice's drain held the next request at concurrency 1 (docs/measurements.md)."""
    import asyncio

    log = RequestLog()
    log._sink = io.BytesIO()
    collect = _Collect()

    async def run() -> list[int]:
        from turnout.observability.finish import Finisher
        from turnout.pricing import PriceTable

        log.attach(Finisher(PriceTable(), {}), [collect])
        log.start()
        seen = []
        log.inflight = 2  # two calls in flight: the first to finish waits for a slice
        log.record(_call(status=200), 0.001)
        await asyncio.sleep(0)
        seen.append(len(collect.seen))
        log.record(_call(status=200), 0.001)  # the last one: the gateway is idle
        await asyncio.sleep(0)
        seen.append(len(collect.seen))
        await log.stop()
        return seen

    assert asyncio.run(run()) == [0, 2]


def test_request_line_timestamps_are_iso_utc_with_microseconds() -> None:
    from datetime import UTC, datetime

    from hypothesis import given
    from hypothesis import strategies as st

    log = RequestLog()

    @given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
    def check(now: float) -> None:
        stamp = log._stamp(now)
        assert stamp.endswith("Z") and len(stamp) == len("2026-12-06T21:59:01.123456Z")
        parsed = datetime.fromisoformat(stamp[:-1]).replace(tzinfo=UTC).timestamp()
        # Microseconds truncated (< 1 µs), then read back as a float near 2**28 s, whose step
        # is 0.06 µs: 1.0133 µs apart was seen (hypothesis, now=268435456.704076).
        assert int(parsed) == int(now) and abs(parsed - now) < 1.5e-6

    check()
    assert log._stamp(1.5) == "1970-01-01T00:00:01.500000Z"  # the cached second is left
    assert log._stamp(61.25) == "1970-01-01T00:01:01.250000Z"


def test_held_lines_are_written_once_a_buffer_fills_or_at_the_tick() -> None:
    """Slices hold their lines until LINE_BUFFER bytes wait; the 50 ms tick writes the rest,
    so a line waits at most one tick and the number of writes does not grow with the rate."""
    import asyncio

    from turnout.observability.logging import LINE_BUFFER, SLICE

    class Counting(io.BytesIO):
        writes = 0
        wrote: asyncio.Event | None = None

        def write(self, data: object) -> int:
            Counting.writes += 1
            if Counting.wrote is not None:
                Counting.wrote.set()
            return super().write(data)  # type: ignore[arg-type]

    log = RequestLog()
    sink = Counting()
    log._sink = sink
    line = len(orjson.dumps({"x": 0})) + 300  # every line is well over 300 bytes
    slices = LINE_BUFFER // (SLICE * line) + 2

    async def run() -> tuple[int, int, int]:
        log.start()
        for _ in range(slices * SLICE):
            log.record(_call(status=200), 0.001)
            await asyncio.sleep(0)  # each full slice is drained on its own loop turn
        before_tick = Counting.writes
        lines = len(sink.getvalue().splitlines())
        Counting.wrote = asyncio.Event()
        await asyncio.wait_for(Counting.wrote.wait(), 10)  # the tick writes the rest
        after = len(sink.getvalue().splitlines())
        await log.stop()
        return before_tick, lines, after

    before_tick, lines, after = asyncio.run(run())
    assert 1 <= before_tick < slices  # fewer writes than slices: lines were held
    assert 0 < lines < slices * SLICE
    assert after == slices * SLICE
    for raw in sink.getvalue().splitlines():
        assert orjson.loads(raw)["event"] == "request"
