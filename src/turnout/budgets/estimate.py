"""What a call will cost before it is made: tokens for TPM limits, dollars for budgets.

Both are reservations, corrected with the real usage once the call has finished, so they
only need to be cheap and not too low. Input tokens are the body's bytes over four (JSON
syntax makes that a slight overestimate for text); output tokens are the request's own
``max_tokens`` (in its protocol's spelling, read by its descriptor's ``asked``) but at most
``limits.output_estimate``, so a client asking for 64k tokens does not lock a whole minute's
quota for an answer of fifty. Dollars use the highest price among the deployments that may
serve the model.
"""

from __future__ import annotations

from turnout.config.compile import Runtime
from turnout.pricing import PriceTable
from turnout.protocols.descriptor import COUNT, EMBED, EMBED_BATCH
from turnout.protocols.registry import FAMILIES, PROTOCOLS
from turnout.types import Call

_MEMO_MAX = 10_000


class Estimator:
    def __init__(self, runtime: Runtime, output_estimate: int) -> None:
        self.runtime = runtime
        self.prices = PriceTable.from_runtime(runtime)
        self.cap = output_estimate
        self._memo: dict[str, tuple[float, float] | None] = {}

    def tokens(self, call: Call) -> tuple[int, int]:
        """(input, output) tokens expected."""
        family = FAMILIES.get((call.protocol, call.operation))
        if family == COUNT:
            return 0, 0
        inp = len(call.body) // 4
        if family in (EMBED, EMBED_BATCH):
            return inp, 0
        wanted = PROTOCOLS[call.protocol].asked(call.data).max_tokens
        out = self.cap
        if isinstance(wanted, int) and 0 <= wanted < out:
            out = wanted
        return inp, out

    def unmetered(self, call: Call) -> str | None:
        """The request field that keeps the call's usage from the gateway, if any
        (:class:`~turnout.protocols.descriptor.Asked`)."""
        return PROTOCOLS[call.protocol].asked(call.data).unmetered

    def cost(self, model: str, inp: int, out: int) -> float:
        """USD at the highest input and output prices the model's deployments charge; 0 when
        no price is known (such calls are counted at their real cost, which is unknown too)."""
        memo = self._memo
        if model in memo:
            price = memo[model]
        else:
            price = self._price(model)
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[model] = price
        if price is None:
            return 0.0
        return (inp * price[0] + out * price[1]) / 1_000_000

    def _price(self, model: str) -> tuple[float, float] | None:
        route = self.runtime.resolve(model)
        labels: list[str | None] = (
            [d.label(model) for d in route.deployments] if route is not None else [None]
        )
        found = [p for label in labels if (p := self.prices.price(model, label)) is not None]
        if not found:
            return None
        return max(p.input for p in found), max(p.output for p in found)
