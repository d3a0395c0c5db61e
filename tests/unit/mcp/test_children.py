"""A passthrough server's connections are bounded per caller: a caller at its bound pushes out
its own least recently used; at the server's bound the one holding the most loses one."""

from __future__ import annotations

from dataclasses import dataclass

from turnout.mcp.children import Children


@dataclass
class Conn:
    name: str
    used: float = 0.0


def test_a_caller_at_its_bound_pushes_out_its_own_oldest() -> None:
    pool: Children[Conn] = Children(per_caller=3, total=100)
    assert pool.add("patient", "p", Conn("p")) == []
    pushed = [c.name for i in range(10) for c in pool.add("greedy", f"g{i}", Conn(f"g{i}"))]
    assert pushed == [f"g{i}" for i in range(7)]
    assert pool.get("patient", "p") == Conn("p") and len(pool) == 4
    assert pool.held("greedy") == 3


def test_at_the_servers_bound_the_biggest_holder_loses_one() -> None:
    pool: Children[Conn] = Children(per_caller=3, total=4)
    for i in range(3):
        pool.add("greedy", f"g{i}", Conn(f"g{i}"))
    pool.add("a", "a", Conn("a"))
    assert [c.name for c in pool.add("b", "b", Conn("b"))] == ["g0"]
    assert len(pool) == 4 and pool.get("a", "a") is not None


def test_use_and_idleness() -> None:
    pool: Children[Conn] = Children(per_caller=2, total=10)
    pool.add("k", "x", Conn("x", used=1.0))
    pool.add("k", "y", Conn("y", used=5.0))
    assert pool.get("k", "x") is not None  # now the most recent: y goes first
    assert [c.name for c in pool.add("k", "z", Conn("z", used=6.0))] == ["y"]
    assert [c.name for c in pool.idle(before=2.0)] == ["x"]
    assert pool.get("other", "z") is None and len(pool) == 1
    assert [c.name for c in pool.clear()] == ["z"] and len(pool) == 0
