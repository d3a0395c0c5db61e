"""Spend budgets per gateway key and team: periods, cost estimates, and spend from the request
log. Budgets are enforced by the limiter (:mod:`turnout.limits`), in the same atomic step
as rate limits: a call reserves its estimated cost, and settles with its real cost after."""

from turnout.budgets.periods import period_end, period_start

__all__ = ["period_end", "period_start"]
