"""A batch summed a slice at a time (the writer lets requests run between slices) gives the
same rollup deltas as the batch summed at once."""

from __future__ import annotations

import asyncio

import pytest

from tests.contract.rows import dataset
from turnout.storage.rollup import Summer, aggregate
from turnout.storage.sql import logs


@pytest.mark.parametrize("step", [1, 7, 40])
def test_slices_sum_to_the_whole(step: int) -> None:
    rows = dataset() * 3
    whole = aggregate(rows)
    summer = Summer()
    for i in range(0, len(rows), step):
        summer.add(rows[i : i + step])
    assert summer.deltas() == whole
    assert whole.route_minute and whole.caller_hour and whole.latency_minute


def test_the_writer_sums_in_slices_and_yields_between_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logs, "STEP", 16)
    rows = dataset() * 4  # 160 rows: 10 slices
    turns = 0

    async def other() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    async def run() -> object:
        task = asyncio.get_running_loop().create_task(other())
        await asyncio.sleep(0)
        before = turns
        deltas = await logs._summed(rows)
        task.cancel()
        assert turns - before >= 9  # the loop ran other work between the slices
        return deltas

    assert asyncio.run(run()) == aggregate(rows)
