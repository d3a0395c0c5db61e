"""What a call will cost before it is made: tokens for TPM limits, dollars for budgets.

Both are reservations, corrected with the real usage once the call has finished, so they
only need to be cheap and not too low. Input tokens are the body's bytes over four (JSON
syntax makes that a slight overestimate for text); output tokens are the request's own
``max_tokens`` (in its protocol's spelling, read by its descriptor's ``asked``) but at most
``limits.output_estimate``, so a client asking for 64k tokens does not lock a whole minute's
quota for an answer of fifty. Dollars use the highest price among the deployments that may
serve the model.

A budget reserves more: the most the call may generate, its ``max_tokens`` uncapped (else
``limits.budget_output_estimate``) times the answers it asks for (``n``, ``candidateCount``).
Concurrent calls are admitted while spent plus reserved stays under the budget, so a
reservation below what a call can cost lets every call in flight overspend by the difference:
with the capped 256, a key with $10 left ran hundreds of 16k-token calls at once. A call is
still settled at its real cost, and a call that ends without usage at the capped estimate
(the *floor*), so reserving the worst case never charges it.
"""

from __future__ import annotations

from turnout.config.compile import Runtime
from turnout.pricing import PriceTable
from turnout.protocols.descriptor import COUNT, EMBED, EMBED_BATCH
from turnout.protocols.registry import FAMILIES, PROTOCOLS
from turnout.types import Call

_MEMO_MAX = 10_000
# At most this many output tokens are reserved per answer (no model writes more): a client's
# absurd max_tokens then blocks only its own budget's concurrency, for one call at a time.
_MOST_OUTPUT = 1_000_000
_MOST_CHOICES = 128  # OpenAI's limit on ``n``


class Estimator:
    def __init__(self, runtime: Runtime, output_estimate: int, budget_output: int = 4096) -> None:
        self.runtime = runtime
        self.prices = PriceTable.from_runtime(runtime)
        self.cap = output_estimate
        self.budget_output = budget_output
        self._memo: dict[str, tuple[float, float] | None] = {}

    def tokens(self, call: Call) -> tuple[int, int]:
        """(input, output) tokens expected."""
        inp, out, _most = self.estimate(call)
        return inp, out

    def estimate(self, call: Call) -> tuple[int, int, int]:
        """(input tokens, output tokens expected, most output tokens a budget reserves)."""
        family = FAMILIES.get((call.protocol, call.operation))
        if family == COUNT:
            return 0, 0, 0
        inp = len(call.body) // 4
        if family in (EMBED, EMBED_BATCH):
            return inp, 0, 0
        asked = PROTOCOLS[call.protocol].asked(call.data)
        wanted = asked.max_tokens
        out = self.cap
        most = self.budget_output
        if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted >= 0:
            out = min(wanted, out)
            most = min(wanted, _MOST_OUTPUT)
        choices = asked.choices
        if isinstance(choices, int) and not isinstance(choices, bool) and choices > 1:
            most *= min(choices, _MOST_CHOICES)
        return inp, out, most

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
