"""Which deployment a learned router picks, given its quality predictions and the costs.

Two rules, the same ones ``turnout router eval`` scores:

- ``target``: the cheapest candidate whose predicted quality clears ``quality_target``; when
  none does, the one predicted best (the cheaper on a tie). Raising the target buys quality
  with money; the evaluation's operating points show what each target costs.
- ``tradeoff``: the candidate with the highest ``quality - λ · cost / max cost``, so ``λ`` is
  the quality a request is worth giving up to pay nothing instead of the dearest candidate's
  price.

After the pick, the remaining candidates follow in the order the rule ranks them (predicted
quality for ``target``, utility for ``tradeoff``), so failover goes to the next best, and
candidates the router knows nothing about come last. Pure and allocation-light: it runs on
every request.
"""

from __future__ import annotations

from collections.abc import Sequence


def rank(
    scores: Sequence[float | None],
    costs: Sequence[float],
    mode: str,
    target: float,
    cost_weight: float,
) -> list[int]:
    """Candidate indices in the order to try them; the first is the pick."""
    known = [i for i, s in enumerate(scores) if s is not None]
    unknown = [i for i, s in enumerate(scores) if s is None]
    if not known:
        return unknown
    if mode == "tradeoff":
        top = max((costs[i] for i in known), default=0.0)
        scale = cost_weight / top if top > 0 else 0.0

        def utility(i: int) -> float:
            s = scores[i]
            assert s is not None
            return s - scale * costs[i]

        ordered = sorted(known, key=lambda i: (-utility(i), costs[i], i))
        return ordered + unknown
    by_quality = sorted(known, key=lambda i: (-(scores[i] or 0.0), costs[i], i))
    pick = None
    for i in sorted(known, key=lambda i: (costs[i], i)):
        s = scores[i]
        if s is not None and s >= target:
            pick = i
            break
    if pick is None:
        return by_quality + unknown
    return [pick, *(i for i in by_quality if i != pick), *unknown]
