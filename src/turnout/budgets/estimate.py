"""What a call will cost before it is made: tokens for TPM limits, dollars for budgets.

Both are reservations, corrected with the real usage once the call has finished, so they
only need to be cheap and not too low. Input tokens are the body's bytes over four (JSON
syntax makes that a slight overestimate for text). Dollars use the highest price among the
deployments that may serve the model.

A token limit and a budget both reserve the most the call may generate: its ``max_tokens``
(in its protocol's spelling, read by its descriptor's ``asked``) uncapped, else
``limits.budget_output_estimate``, times the answers it asks for (``n``, ``candidateCount``,
legacy completions' ``best_of``).
Concurrent calls are admitted while what is counted plus reserved stays under the limit, so
a reservation below what a call can use lets every call in flight pass it by the difference:
with a reservation capped at 256 output tokens, a key with $10 left ran hundreds of
16k-token calls at once, and a 10,000-token-per-minute key eight 2,000-token calls. A call is
still settled at its real usage, and a call that ends without usage at the *expected* output:
its ``max_tokens`` at most ``limits.output_estimate`` (the *floor*), so reserving the worst
case never charges it.

A budget can only hold calls it can price. A model that some deployment serving it (its
fallbacks' included) has no price for would cost the budget nothing, and on a glob route the
client chooses the name: such a call is refused before it is sent (:class:`Unpriced`, 403)
unless the operator sets ``pricing.unpriced: allow``. The answer is memoised with the prices,
so a priced model pays nothing more for the check.
"""

from __future__ import annotations

from turnout.config.compile import Runtime
from turnout.errors import Unpriced
from turnout.pricing import Price, PriceTable
from turnout.protocols.descriptor import COUNT, NO_OUTPUT
from turnout.protocols.registry import FAMILIES, PROTOCOLS
from turnout.types import Call

_MEMO_MAX = 10_000
# (USD per million input tokens, per million output tokens, every deployment priced): the
# highest prices among the deployments that may serve a model, and whether all have one.
Rates = tuple[float, float, bool]
_NO_ROUTE: Rates = (0.0, 0.0, True)  # the router answers 404 before anything is sent
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
        self.refuse = runtime.config.pricing.unpriced == "refuse"
        self._memo: dict[str, Rates] = {}

    def tokens(self, call: Call) -> tuple[int, int]:
        """(input, output) tokens expected."""
        inp, out, _most = self.estimate(call)
        return inp, out

    def estimate(self, call: Call) -> tuple[int, int, int]:
        """(input tokens, output tokens expected, most output tokens a token limit and a
        budget reserve)."""
        family = FAMILIES.get((call.protocol, call.operation))
        if family == COUNT:
            return 0, 0, 0
        inp = len(call.body) // 4
        if family in NO_OUTPUT:  # embeddings, moderation: nothing generated
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

    def reserve(self, call: Call, inp: int, out: int, most: int) -> tuple[float, float]:
        """USD a budget reserves for ``call`` and settles it at when its usage is unknown (the
        most it may cost, the expected cost); :class:`Unpriced` when the gateway cannot price
        it and ``pricing.unpriced`` is ``refuse``."""
        price_in, price_out, priced = self.rates(call.model)
        if not priced and self.refuse and FAMILIES.get((call.protocol, call.operation)) != COUNT:
            raise Unpriced(call.model)
        base = inp * price_in
        return (base + most * price_out) / 1_000_000, (base + out * price_out) / 1_000_000

    def cost(self, model: str, inp: int, out: int) -> float:
        """USD at the highest input and output prices the model's deployments charge; the
        priced ones only, 0 when none is (the ``max_cost`` plugin lets those through)."""
        price_in, price_out, _ = self.rates(model)
        return (inp * price_in + out * price_out) / 1_000_000

    def rates(self, model: str) -> Rates:
        memo = self._memo
        rates = memo.get(model)
        if rates is None:
            rates = self._rates(model)
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[model] = rates
        return rates

    def _rates(self, model: str) -> Rates:
        """Every deployment that may serve ``model``: its route's, and its fallbacks' (a
        fallback's call is priced as ``model`` on the fallback's deployment, as the request
        log prices it: turnout.observability.finish)."""
        runtime = self.runtime
        route = runtime.resolve(model)
        if route is None:
            return _NO_ROUTE
        labels = [d.label(model) for d in route.deployments]
        for name in (*route.fallbacks, *route.context_fallbacks):
            fallback = runtime.resolve(name)
            if fallback is not None:
                labels.extend(d.label(name) for d in fallback.deployments)
        prices = [self.prices.price(model, label) for label in labels]
        found = [p for p in prices if p is not None]
        return _highest(found, priced=len(found) == len(prices))


def _highest(prices: list[Price], *, priced: bool) -> Rates:
    if not prices:
        return 0.0, 0.0, False
    return max(p.input for p in prices), max(p.output for p in prices), priced
