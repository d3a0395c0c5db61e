"""The fair-share eviction policy of bounded tables (:mod:`turnout.fairshare`): past the bound,
the oldest entry of the owner holding the most goes, so one key filling a table pushes out
only its own entries."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.fairshare import Shares


def test_a_flooding_owner_loses_its_own_oldest_and_the_others_keep_theirs() -> None:
    shares: Shares[str] = Shares()
    table: dict[str, str] = {}

    def put(item: str, owner: str) -> None:
        table[item] = owner
        shares.add(item, owner)
        while len(table) > 10:
            victim, who = shares.victim()
            shares.remove(victim, who)
            del table[victim]

    put("alice-1", "alice")
    put("bob-1", "bob")
    for i in range(1000):
        put(f"flood-{i}", "mallory")
    assert "alice-1" in table and "bob-1" in table
    assert shares.held("mallory") == 8 and "flood-999" in table and "flood-0" not in table
    assert shares.count == len(table) == 10 and shares.owners() == 3


def test_touch_makes_an_entry_its_owners_newest() -> None:
    shares: Shares[str] = Shares()
    for item in "abc":
        shares.add(item, "k")
    shares.touch("a", "k")
    assert shares.victim() == ("b", "k")


def test_by_bytes_the_owner_holding_the_most_bytes_loses_one() -> None:
    shares: Shares[str] = Shares(sized=True)
    shares.add("small-1", "few", 10)
    shares.add("small-2", "few", 10)
    shares.add("small-3", "few", 10)
    shares.add("big", "large", 100)
    assert shares.victim() == ("small-1", "few")  # most entries
    assert shares.victim(by_bytes=True) == ("big", "large")  # most bytes
    assert shares.remove("big", "large") == 100
    assert shares.bytes == 30 and shares.count == 3
    assert shares.victim(by_bytes=True) == ("small-1", "few")


def test_an_empty_table_has_no_victim() -> None:
    shares: Shares[str] = Shares(sized=True)
    with pytest.raises(LookupError):
        shares.victim()
    shares.add("a", "k", 5)
    shares.remove("a", "k")
    with pytest.raises(LookupError):
        shares.victim(by_bytes=True)
    assert shares.owners() == 0 and shares.bytes == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 50), st.integers(0, 3)), max_size=300))
def test_the_victims_owner_always_holds_the_most(ops: list[tuple[int, int, int]]) -> None:
    """Against a brute-force count of every owner's entries and bytes, after any sequence of
    adds, removals, touches and evictions (the heap's snapshots go stale in every way)."""
    shares: Shares[int] = Shares(sized=True)
    table: dict[int, tuple[str, int]] = {}
    rng = random.Random(len(ops))
    for serial, (who, size, action) in enumerate(ops):
        owner = f"k{who}"
        if action <= 1 or not table:
            table[serial] = (owner, size)
            shares.add(serial, owner, size)
        elif action == 2:
            item = rng.choice(list(table))
            shares.touch(item, table[item][0])
        else:
            item = rng.choice(list(table))
            owner, size = table.pop(item)
            assert shares.remove(item, owner) == size
        counts: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for o, s in table.values():
            counts[o] = counts.get(o, 0) + 1
            sizes[o] = sizes.get(o, 0) + s
        assert shares.count == len(table) and shares.bytes == sum(sizes.values())
        if table:
            _, by_count = shares.victim()
            _, by_size = shares.victim(by_bytes=True)
            assert counts[by_count] == max(counts.values())
            assert sizes[by_size] == max(sizes.values())


def test_many_owners_coming_and_going_keep_the_heap_bounded() -> None:
    shares: Shares[int] = Shares()
    for i in range(10_000):
        shares.add(i, f"k{i % 7}-{i // 100}")
        if i >= 50:
            victim, owner = shares.victim()
            shares.remove(victim, owner)
    assert shares.count == 50
    assert len(shares._counts._heap) <= 2 * shares.owners() + 64 + 1
