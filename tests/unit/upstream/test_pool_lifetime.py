"""Pools of destinations nobody uses any more are not kept for the life of the process
(docs/configuration.md, live configuration): the client drops the pools that
hold nothing once it has many, and the end-to-end case (a provider removed by a reload, its
idle connection closed) is ``tests/faults/test_live_reload.py``."""

from __future__ import annotations

from turnout.upstream.base import Egress
from turnout.upstream.pooled import _POOLS_SWEEP, PooledClient


def test_unused_pools_are_dropped() -> None:
    client = PooledClient()
    for port in range(20_000, 20_000 + 3 * _POOLS_SWEEP):  # a provider per port, each gone
        client._target(f"http://127.0.0.1:{port}/v1", 5.0, Egress())
    assert len(client._pools) <= _POOLS_SWEEP + 1  # before: one per destination ever used
