"""The in-process limiter's shortcut for a plan of one RPM rule gives the same verdicts, counts
and headers as its general pass (the one every other plan takes)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.limits.memory import MemoryLimiter
from turnout.limits.plan import Plan, Rule, Ticket

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def test_which_plans_take_the_shortcut() -> None:
    rpm = Rule("k:a", "key a", rpm=5)
    assert Plan((rpm,)).single is rpm
    assert Plan((Rule("k:a", "key a", rpm=5, tpm=9),)).single is None
    assert Plan((Rule("k:a", "key a", rpm=5, parallel=2),)).single is None
    assert Plan((Rule("k:a", "key a", tpm=5),)).single is None
    assert Plan((rpm, Rule("t:x", "team x", rpm=9))).single is None


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=6),
    steps=st.lists(st.floats(min_value=0.0, max_value=40.0), min_size=1, max_size=60),
)
def test_the_shortcut_agrees_with_the_general_pass(limit: int, steps: list[float]) -> None:
    clock = Clock()
    short, general = MemoryLimiter(clock=clock), MemoryLimiter(clock=clock)
    fast = Plan((Rule("k:a", "key a", rpm=limit),))
    slow = Plan((Rule("k:a", "key a", rpm=limit),))
    object.__setattr__(slow, "single", None)  # the same rule through the general pass
    assert fast.single is not None
    for step in steps:
        clock.now += step
        a, b = short.admit_now(Ticket(fast)), general.admit_now(Ticket(slow))
        assert (a.ok, a.what, a.limit_requests, a.remaining_requests) == (
            b.ok,
            b.what,
            b.limit_requests,
            b.remaining_requests,
        )
        assert a.reset_requests == b.reset_requests and a.retry_after == b.retry_after
        w1, w2 = short.requests["k:a"], general.requests["k:a"]
        assert (w1.total, w1.counts, w1.oldest) == (w2.total, w2.counts, w2.oldest)
