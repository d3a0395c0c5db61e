"""The same limiter semantics on both backends: memory, and Redis (the machine's, under a
private key prefix) with the script's clock driven by the test.

Each scenario moves time by hand, so windows, leases and budget periods are tested exactly,
without sleeping.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.support.wait import until_async
from tests.unit.cache.redis_support import shared_redis
from turnout.budgets.periods import period_end, period_start
from turnout.limits.memory import MemoryLimiter
from turnout.limits.plan import BudgetRule, Plan, Rule, Ticket
from turnout.limits.redis import RedisLimiter

pytestmark = pytest.mark.asyncio(loop_scope="function")
T0 = 1_800_000_000.0  # a round second, far from any period boundary of interest


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture(params=["memory", "redis"], loop_scope="function")
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Clock]]:
    clock = Clock()
    if request.param == "memory":
        yield MemoryLimiter(lease=30, clock=clock), clock
        return
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    limiter = RedisLimiter(shared_redis(), prefix=prefix, lease=30, clock=clock, timeout=2)
    yield limiter, clock
    keys = await limiter.client.keys(f"{prefix}*")
    if keys:
        await limiter.client.delete(*keys)
    await limiter.close()


def plan(*rules: Rule, budgets: tuple[BudgetRule, ...] = ()) -> Plan:
    return Plan(tuple(rules), budgets)


async def admit(limiter: Any, p: Plan, tokens: int = 0, cost: float = 0.0, now: float = T0) -> Any:
    ticket = Ticket(p, tokens=tokens, cost=cost)
    ticket.periods = tuple(period_start(b.period, now) for b in p.budgets)
    verdict = await limiter.admit(ticket)
    return verdict, ticket


async def test_requests_per_minute_exact_and_sliding(backend: tuple[Any, Clock]) -> None:
    limiter, clock = backend
    p = plan(Rule("k:a", "key a", rpm=5))
    results = [(await admit(limiter, p))[0] for _ in range(8)]
    assert [v.ok for v in results] == [True] * 5 + [False] * 3
    assert results[0].limit_requests == 5 and results[0].remaining_requests == 4
    assert results[4].remaining_requests == 0
    refused = results[5]
    assert refused.what == "requests" and refused.rule.scope == "k:a"
    assert 60 <= refused.retry_after <= 61
    clock.now += 30  # half a minute later: still the same five
    assert not (await admit(limiter, p))[0].ok
    clock.now += 31  # 61 s after the burst, it has left the window
    assert (await admit(limiter, p))[0].ok


async def test_no_sixty_second_span_admits_more_than_the_limit(backend: tuple[Any, Clock]) -> None:
    limiter, clock = backend
    p = plan(Rule("k:s", "key s", rpm=10))
    admitted: list[float] = []
    for step in range(400):  # one call every 0.35 s for 140 s
        clock.now = T0 + step * 0.35
        if (await admit(limiter, p))[0].ok:
            admitted.append(clock.now)
    for i, start in enumerate(admitted):
        in_span = [t for t in admitted[i:] if t < start + 60]
        assert len(in_span) <= 10
    assert len(admitted) >= 20  # and it keeps admitting as the window slides


async def test_every_rule_must_pass_and_a_refusal_counts_nothing(
    backend: tuple[Any, Clock],
) -> None:
    limiter, _ = backend
    # Keys b and c are in team x: every counter of theirs carries the team's hash tag.
    key, team = Rule("k:b", "key b", rpm=10, tag="t:x"), Rule("t:x", "team x", rpm=2, tag="t:x")
    p = plan(key, team)
    assert [(await admit(limiter, p))[0].ok for _ in range(3)] == [True, True, False]
    other = plan(Rule("k:c", "key c", rpm=10, tag="t:x"), team)
    verdict = (await admit(limiter, other))[0]
    assert not verdict.ok and verdict.rule.scope == "t:x"
    alone = plan(key)  # the refused calls were not counted against the key
    assert (await admit(limiter, alone))[0].remaining_requests == 10 - 3


async def test_tokens_reserved_then_reconciled(backend: tuple[Any, Clock]) -> None:
    limiter, clock = backend
    p = plan(Rule("k:t", "key t", tpm=1000))
    first, t1 = await admit(limiter, p, tokens=600)
    assert first.ok and first.remaining_tokens == 400
    refused, _ = await admit(limiter, p, tokens=600)
    assert not refused.ok and refused.what == "tokens"
    await limiter.settle([(t1, 100, 0.0)])  # it used 100 tokens, not 600
    second, _ = await admit(limiter, p, tokens=600)
    assert second.ok and second.remaining_tokens == 300
    clock.now += 62
    big, _ = await admit(limiter, p, tokens=5000)  # an empty window admits one large call
    assert big.ok
    assert not (await admit(limiter, p, tokens=1))[0].ok


async def test_parallel_slots_free_when_calls_end(backend: tuple[Any, Clock]) -> None:
    limiter, clock = backend
    p = plan(Rule("k:p", "key p", parallel=2))
    (a, ta), (b, _) = await admit(limiter, p), await admit(limiter, p)
    assert a.ok and b.ok
    refused, _ = await admit(limiter, p)
    assert not refused.ok and refused.what == "parallel"
    limiter.finish(ta)

    async def admitted() -> bool:  # Redis frees the slot without waiting for the reply
        return bool((await admit(limiter, p))[0].ok)

    await until_async(admitted)
    assert not (await admit(limiter, p))[0].ok
    clock.now += 31  # leases of calls never settled run out (a crashed replica)
    assert (await admit(limiter, p))[0].ok


async def test_budget_reserve_settle_and_period_reset(backend: tuple[Any, Clock]) -> None:
    limiter, clock = backend
    day = BudgetRule("k:d", "key d", amount=1.0, period="day")
    p = plan(budgets=(day,))
    ok, t1 = await admit(limiter, p, cost=0.4)
    assert ok.ok
    ok2, t2 = await admit(limiter, p, cost=0.4)
    ok3, t3 = await admit(limiter, p, cost=0.4)  # 0.8 reserved < 1.0: still admitted
    assert ok2.ok and ok3.ok
    refused, _ = await admit(limiter, p, cost=0.4)  # 1.2 reserved: over
    # Nothing is spent yet: the budget is held by calls in flight, free again once they end.
    assert not refused.ok and refused.what == "held" and refused.retry_after == 1.0
    start = period_start("day", clock.now)
    await limiter.settle([(t1, 0, 0.1), (t2, 0, 0.1), (t3, 0, 0.1)])  # real cost: 0.3
    assert await limiter.usage("k:d", start) == pytest.approx((0.3, 0.0))
    again, t4 = await admit(limiter, p, cost=0.4)
    assert again.ok
    await limiter.settle([(t4, 0, 0.9)])  # spent 1.2: over budget now
    spent, _ = await admit(limiter, p, cost=0.01)
    assert not spent.ok and spent.what == "budget"
    assert spent.retry_after == pytest.approx(period_end("day", start) - clock.now, abs=1)
    clock.now = period_end("day", start) + 5  # the next day starts from zero
    fresh, _ = await admit(limiter, p, cost=0.4, now=clock.now)
    assert fresh.ok


async def test_budget_overshoot_is_at_most_one_reservation(backend: tuple[Any, Clock]) -> None:
    limiter, _ = backend
    p = plan(budgets=(BudgetRule("t:o", "team o", amount=1.0, period="month"),))
    cost = 0.15
    verdicts = await asyncio.gather(*(admit(limiter, p, cost=cost) for _ in range(40)))
    admitted = [t for v, t in verdicts if v.ok]
    await limiter.settle([(t, 0, cost) for t in admitted])
    spent, reserved = await limiter.usage("t:o", admitted[0].periods[0])
    assert reserved == pytest.approx(0.0)
    assert spent <= 1.0 + cost
    assert len(admitted) == 7  # 6 * 0.15 = 0.9 < 1.0 admits a 7th, never an 8th


async def test_seeded_spend_counts_and_never_goes_down(backend: tuple[Any, Clock]) -> None:
    limiter, clock = backend
    p = plan(budgets=(BudgetRule("k:e", "key e", amount=5.0, period="week"),))
    start = period_start("week", clock.now)
    end = period_end("week", start)
    await limiter.seed([("k:e", start, end, 4.5)])
    ok, t = await admit(limiter, p, cost=1.0)
    assert ok.ok
    await limiter.settle([(t, 0, 1.0)])
    await limiter.seed([("k:e", start, end, 4.6)])  # the log lags the live counter
    assert (await limiter.usage("k:e", start))[0] == pytest.approx(5.5)
    assert not (await admit(limiter, p, cost=0.1))[0].ok


async def test_model_and_key_rules_together(backend: tuple[Any, Clock]) -> None:
    limiter, _ = backend
    key = Rule("k:m", "key m", rpm=100, tpm=10_000)
    model = Rule("m:m:gpt-*", "key m on gpt-*", rpm=1, parallel=5)
    both = plan(key, model)
    first, _ = await admit(limiter, both, tokens=10)
    assert first.ok
    assert first.limit_requests == 1 and first.remaining_requests == 0  # the tightest rule
    assert first.limit_tokens == 10_000 and first.remaining_tokens == 9_990
    refused, _ = await admit(limiter, both, tokens=10)
    assert not refused.ok and refused.rule is model
    assert (await admit(limiter, plan(key), tokens=10))[0].ok


async def test_unsettled_reservations_expire_with_their_lease(backend: tuple[Any, Clock]) -> None:
    limiter, clock = backend
    p = plan(budgets=(BudgetRule("k:l", "key l", amount=1.0, period="month"),))
    kept, t_kept = await admit(limiter, p, cost=0.6)
    clock.now += 20
    lost, _ = await admit(limiter, p, cost=0.5)  # never settled: its replica died
    assert kept.ok and lost.ok
    assert not (await admit(limiter, p, cost=0.1))[0].ok  # 1.1 reserved
    start = t_kept.periods[0]
    assert (await limiter.usage("k:l", start))[1] == pytest.approx(1.1)
    await limiter.settle([(t_kept, 0, 0.0)])
    assert (await limiter.usage("k:l", start))[1] == pytest.approx(0.5)
    clock.now += 31  # the lost one's 30 s lease has run out
    verdict, _ = await admit(limiter, p, cost=0.1)
    assert verdict.ok
    assert (await limiter.usage("k:l", start))[1] == pytest.approx(0.1)


async def test_a_running_call_keeps_its_slot_and_reservation_past_its_lease(
    backend: tuple[Any, Clock],
) -> None:
    """Before: a call longer than ``limits.lease`` (a long stream) lost its slot and its
    reservation mid-call, so ``max_parallel`` admitted one more and the budget forgot it held
    anything. Now the leases of running calls are renewed; a call this process lost track of
    (a crashed replica's) still expires."""
    limiter, clock = backend
    budget = BudgetRule("k:r", "key r", amount=1.0, period="month")
    p = plan(Rule("k:r", "key r", parallel=1), budgets=(budget,))
    first, running = await admit(limiter, p, cost=1.0)
    assert first.ok
    gone = BudgetRule("k:z", "key z", amount=1.0, period="month")
    lost_plan = plan(Rule("k:z", "key z", parallel=1), budgets=(gone,))
    other, lost = await admit(limiter, lost_plan, cost=1.0)
    assert other.ok
    limiter.live.pop(lost.seq, None)  # its replica crashed: nobody renews it
    start = running.periods[0]
    for _ in range(3):  # 60 s, twice the 30 s lease
        clock.now += 20
        await limiter.renew()
        refused, _ = await admit(limiter, p, cost=0.05)
        assert not refused.ok and refused.what == "parallel"
        held, _ = await admit(limiter, plan(budgets=(budget,)), cost=0.05)
        assert not held.ok and held.what == "held"
    assert (await limiter.usage("k:r", start))[1] == pytest.approx(1.0)
    # The lost one's slot and reservation expired: the budget is free again.
    again, _ = await admit(limiter, lost_plan, cost=0.05)
    assert again.ok
    limiter.finish(running)  # ended: its slot is free, its reservation waits for settlement

    async def admitted() -> bool:
        verdict, ticket = await admit(limiter, plan(Rule("k:r", "key r", parallel=1)))
        limiter.finish(ticket)
        return bool(verdict.ok)

    await until_async(admitted)
    clock.now += 31  # an ended call is not renewed: a lost settlement cannot hold it forever
    await limiter.renew()
    assert (await admit(limiter, plan(budgets=(budget,)), cost=0.05))[0].ok
