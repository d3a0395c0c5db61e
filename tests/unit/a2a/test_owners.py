"""The table of task and context owners is bounded: when it is full, the key holding the most
entries loses its oldest, so one key opening tasks in a loop never pushes out another's."""

from __future__ import annotations

import pytest

from turnout.a2a.owners import CONTEXT, TaskOwners

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def test_a_key_filling_the_table_pushes_out_only_its_own() -> None:
    """Before: the table's oldest entries went first, whoever held them, so a key opening
    tasks in a loop made every other key's running tasks "Task not found" to their owner."""
    owners = TaskOwners(capacity=10)
    owners.claim("agent", "alice-task", "key_alice")
    owners.claim("agent", "alice-ctx", "key_alice", CONTEXT)
    owners.claim("agent", "bob-task", "key_bob")
    for i in range(1000):
        owners.claim("agent", f"flood-{i}", "key_mallory")
    assert await owners.owner("agent", "alice-task") == "key_alice"
    assert await owners.owner("agent", "alice-ctx", CONTEXT) == "key_alice"
    assert await owners.owner("agent", "bob-task") == "key_bob"
    assert len(owners.owners) == 10
    assert await owners.owner("agent", "flood-999") == "key_mallory"  # its newest stay
    assert await owners.owner("agent", "flood-0") is None


async def test_the_busiest_key_loses_its_oldest_and_a_seen_task_is_kept_fresh() -> None:
    owners = TaskOwners(capacity=4)
    for i in range(3):
        owners.claim("agent", f"a-{i}", "key_a")
    owners.claim("agent", "b-0", "key_b")
    owners.claim("agent", "a-0", "key_a")  # seen again: now its newest
    owners.claim("agent", "b-1", "key_b")  # full: key_a holds the most, its oldest (a-1) goes
    assert await owners.owner("agent", "a-1") is None
    assert [await owners.owner("agent", t) for t in ("a-0", "a-2", "b-0", "b-1")] == [
        "key_a",
        "key_a",
        "key_b",
        "key_b",
    ]
    assert owners.held.count == len(owners.owners) == 4
