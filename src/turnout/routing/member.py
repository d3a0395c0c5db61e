"""One deployment of one public model, with everything an attempt needs at hand.

Built once per route when the router starts, so the request path follows references instead
of looking anything up: the deployment's spec (weights, prices, limits), its shared health,
the provider that sends to it and the classifier of that provider's errors.
"""

from __future__ import annotations

from dataclasses import replace

from turnout.config.compile import DeploymentSpec
from turnout.health.targets import DeploymentHealth, KeyHealth
from turnout.providers.base import Provider
from turnout.routing.classify import Classifier
from turnout.types import Call


class Member:
    __slots__ = ("classifier", "health", "index", "label", "model", "provider", "spec")

    def __init__(
        self,
        index: int,
        spec: DeploymentSpec,
        health: DeploymentHealth,
        provider: Provider,
        classifier: Classifier,
        model: str | None = None,
    ) -> None:
        self.index = index  # position in the route (priority order), a stable tie-breaker
        self.spec = spec
        self.health = health
        self.provider = provider
        self.classifier = classifier
        # A wildcard deployment's view for one requested model (plan.py), whose ``health``
        # is that model's own record; None for a member of the plan itself.
        self.model = model
        # Precomputed unless the upstream name depends on the request ("*").
        self.label: str | None = (
            spec.label(model) if model is not None
            else None if spec.model == "*" else spec.label(spec.model)
        )  # fmt: skip

    def target(self, requested: str, asked: str) -> tuple[DeploymentSpec, str]:
        """The spec to send with and its label, for model ``requested`` (``asked`` is the
        client's own model name, which providers forward for "*")."""
        if self.label is not None and (self.model is None or requested == asked):
            return self.spec, self.label
        if requested == asked:
            return self.spec, self.spec.label(requested)
        # "*" forwards the requested name: when this route is a fallback, that is the
        # fallback's name, not the one the client asked for.
        spec = replace(self.spec, model=requested)
        return spec, spec.label(requested)

    def __repr__(self) -> str:
        return f"Member({self.health.id!r})"


def pinned_first(candidates: list[Member], call: Call, requested: str) -> list[Member]:
    """The deployment holding a conversation's state goes first (conversations step)."""
    assert call.pin is not None
    label = call.pin[0]
    first = [m for m in candidates if m.target(requested, call.model)[1] == label]
    return [*first, *(m for m in candidates if m not in first)] if first else candidates


def pinned_key(health: DeploymentHealth, fingerprint: str, now: float) -> KeyHealth | None:
    """The key a conversation's state was made with, if it is usable (conversations step)."""
    for key in health.pool.keys:
        if key.fingerprint == fingerprint and key.until <= now and not key.trial:
            return key
    return None
