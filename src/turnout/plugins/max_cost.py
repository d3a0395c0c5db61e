"""``max_cost``: refuse a request whose worst-case cost exceeds a limit, before it is sent.

Worst case: the request's input tokens (its bytes over four, as the limits estimate them)
plus every output token it allows (its own ``max_tokens`` in its protocol's spelling, or
``default_output_tokens`` when it sets none), at the highest prices among the deployments
that may serve the model (docs/keys-and-limits.md has the price lookup). A model without a
known price is let through: there is nothing to compare.
"""

from __future__ import annotations

from pydantic import Field

from turnout.budgets.estimate import Estimator
from turnout.errors import GuardrailRefused
from turnout.plugins.base import Host, Plugin, Run, Settings
from turnout.protocols.registry import PROTOCOLS
from turnout.types import Call, Reply


class MaxCostSettings(Settings):
    max_usd: float = Field(gt=0, description="the most one request may cost, in USD")
    default_output_tokens: int = Field(
        8192, ge=0, description="output tokens assumed when a request sets no maximum"
    )


class MaxCost(Plugin):
    name = "max_cost"
    Settings = MaxCostSettings

    def __init__(self, settings: MaxCostSettings, host: Host) -> None:
        super().__init__(settings, host)
        self.estimator = Estimator(host.runtime, settings.default_output_tokens)

    def worst_case(self, call: Call) -> float:
        asked = PROTOCOLS[call.protocol].asked(call.data).max_tokens
        out = self.settings.default_output_tokens
        if isinstance(asked, int) and not isinstance(asked, bool) and asked >= 0:
            out = asked
        return self.estimator.cost(call.model, len(call.body) // 4, out)

    async def before(self, call: Call, run: Run) -> Reply | None:
        cost = self.worst_case(call)
        limit = self.settings.max_usd
        if cost > limit:
            raise GuardrailRefused(
                f"This request could cost up to ${cost:.4f}, more than the limit of "
                f"${limit:g} per request; lower max_tokens or shorten the prompt.",
                plugin=self.name,
                rule="max_usd",
            )
        return None
