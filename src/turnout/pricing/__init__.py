"""What a call cost, from its token counts and a price table.

Prices come from three places, the first that knows the model wins: ``pricing.models`` in the
config (keyed by public model, ``provider/model`` or upstream model name), a deployment's own
``price`` (routing's, input and output only), then the bundled table (``prices.json``, a
snapshot of list prices). Upstream names carry snapshot dates and versions
(``gpt-4o-2024-08-06``, ``claude-sonnet-4-5-20250929``, ``gemini-2.0-flash-001``,
``claude-3-7-sonnet-latest``), so the bundled table is searched by dropping those, and only
those, after the clouds' own spellings are reduced to the vendor's (Bedrock's
``us.anthropic.claude-sonnet-4-5-20250929-v1:0``, Vertex AI's ``claude-sonnet-4-5@20250929``).
Any other suffix names another model, often at another price (``gpt-5-pro`` is twelve times
``gpt-5``, ``gemini-2.5-flash-image`` writes images at $30 per million), so it is not cut to
find a price: such a name has none. A model no source knows has no cost (``None``), never a
cost of zero: a usage report must show what it could not price, and a budget refuses it
(``pricing.unpriced``, :mod:`turnout.budgets.estimate`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from turnout.config.compile import Runtime
from turnout.types import Usage

_MEMO_MAX = 10_000
# What a Message Batch result costs, as a share of the model's price: Anthropic charges half
# its list price for batched requests (docs/batches.md); the price table holds list prices.
BATCH_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float = 0.0
    cached_input: float | None = None  # None: the input price
    reasoning: float | None = None  # None: the output price

    def cost(self, usage: Usage) -> float:
        """Cached reads are part of the input count and reasoning part of the output count
        (the gateway's normalised usage), so each is priced instead of, not on top of, its
        plain counterpart."""
        cached = min(usage.cached_tokens, usage.input_tokens)
        reasoning = min(usage.reasoning_tokens, usage.output_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        reasoning_price = self.output if self.reasoning is None else self.reasoning
        total = (
            (usage.input_tokens - cached) * self.input
            + cached * cached_price
            + (usage.output_tokens - reasoning) * self.output
            + reasoning * reasoning_price
        )
        return total / 1_000_000

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Price:
        return cls(
            input=float(raw["input"]),
            output=float(raw.get("output") or 0.0),
            cached_input=None if raw.get("cached_input") is None else float(raw["cached_input"]),
            reasoning=None if raw.get("reasoning") is None else float(raw["reasoning"]),
        )


def bundled() -> dict[str, Price]:
    text = resources.files(__package__).joinpath("prices.json").read_text()
    return {name: Price.from_dict(p) for name, p in json.loads(text)["models"].items()}


# The clouds' spellings of a vendor's model: Bedrock's ``us.anthropic.claude-…-v1:0`` (a region
# prefix for inference profiles, the vendor, a version suffix; an ARN ends with the same), and
# Vertex AI's ``claude-…@20250929``.
_CLOUD_PREFIX = re.compile(
    r"^(?:[a-z]{2,6}\.)?(?:anthropic|meta|mistral|amazon|cohere|ai21|deepseek|openai|qwen|writer)\."
)
_CLOUD_SUFFIX = re.compile(r"(?:-v\d+(?::\d+)?|:\d+)$")
# What a vendor appends to name one snapshot of a model, at the model's price: a date
# (OpenAI's ``-2024-08-06``, Anthropic's ``-20250929``), Google's stable version (``-001``),
# an alias of the newest snapshot (``-latest``), a cloud's version (Vertex AI's ``-v2``). Not
# ``-preview``, ``-pro``, ``-mini``, ``-32k``, ``-0613`` or anything else: those name other
# models whose prices differ (``gpt-3.5-turbo-1106`` cost twice ``gpt-3.5-turbo-0125``).
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest|v\d+(?::\d+)?)$")


def _base_name(model: str) -> str:
    name = model.rsplit("/", 1)[-1].lower().split("@", 1)[0]
    if "." in name and (bare := _CLOUD_PREFIX.sub("", name)) != name:
        name = _CLOUD_SUFFIX.sub("", bare)
    return name


class PriceTable:
    """Looks prices up by (public model, deployment label); answers are memoised because the
    same few pairs recur for every request."""

    def __init__(
        self,
        overrides: Mapping[str, Price] | None = None,
        deployments: Mapping[str, Price] | None = None,
        table: Mapping[str, Price] | None = None,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.deployments = dict(deployments or {})
        self.table = dict(table or {})
        self._memo: dict[tuple[str, str | None], Price | None] = {}

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> PriceTable:
        cfg = runtime.config.pricing
        overrides = {name: Price.from_dict(p.model_dump()) for name, p in cfg.models.items()}
        deployments: dict[str, Price] = {}
        for route in runtime.routes():
            for d in route.deployments:
                if d.input_price is not None:
                    deployments.setdefault(d.id, Price(d.input_price, d.output_price or 0.0))
        return cls(overrides, deployments, bundled() if cfg.bundled else {})

    def price(self, model: str, deployment: str | None) -> Price | None:
        key = (model, deployment)
        memo = self._memo
        if key in memo:
            return memo[key]
        found = self._find(model, deployment)
        if len(memo) < _MEMO_MAX:
            memo[key] = found
        return found

    def _find(self, model: str, deployment: str | None) -> Price | None:
        upstream = deployment.split("/", 1)[1] if deployment and "/" in deployment else None
        for name in (model, deployment, upstream):
            if name is not None and name in self.overrides:
                return self.overrides[name]
        if deployment is not None:
            provider = deployment.split("/", 1)[0]
            price = self.deployments.get(deployment) or self.deployments.get(f"{provider}/*")
            if price is not None:
                return price
        for name in (upstream, model):
            if name is not None and (price := self._bundled(name)) is not None:
                return price
        return None

    def _bundled(self, model: str) -> Price | None:
        """The bundled price of ``model`` or of the model it is a snapshot of; None for any
        other name (never the price of a prefix: ``gpt-5-pro`` is not ``gpt-5``)."""
        name = _base_name(model)
        while name:
            price = self.table.get(name)
            if price is not None:
                return price
            snapshot = _SNAPSHOT.search(name)
            if snapshot is None or snapshot.start() == 0:
                return None
            name = name[: snapshot.start()]
        return None

    def cost(self, model: str, deployment: str | None, usage: Usage | None) -> float | None:
        if usage is None:
            return None
        price = self.price(model, deployment)
        return None if price is None else price.cost(usage)


__all__ = ["BATCH_SHARE", "Price", "PriceTable", "bundled"]
