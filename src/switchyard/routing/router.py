"""Try a model's deployments in order until one answers, failing over while nothing has been
sent to the client.

A stream is committed only once its first chunk has arrived: a provider that accepts the
connection and then fails before producing anything is still failed over transparently.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Mapping

from switchyard.config.compile import DeploymentSpec, ModelRoute, Runtime
from switchyard.errors import GatewayError, ModelNotFound
from switchyard.providers.base import Provider
from switchyard.types import Call, Reply

# Upstream statuses worth trying elsewhere; anything else is the client's own answer.
_FAILOVER_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})


def priority_order(route: ModelRoute) -> list[DeploymentSpec]:
    """Lowest priority number first; inside a tier, a weighted random order."""
    ordered: list[DeploymentSpec] = []
    for _, tier_iter in itertools.groupby(route.deployments, key=lambda d: d.priority):
        tier = list(tier_iter)
        while len(tier) > 1:
            pick = random.choices(range(len(tier)), weights=[d.weight for d in tier])[0]
            ordered.append(tier.pop(pick))
        ordered.extend(tier)
    return ordered


class Router:
    def __init__(self, runtime: Runtime, providers: Mapping[str, Provider]) -> None:
        self.runtime = runtime
        self.providers = providers
        self._key_cycles = {
            name: itertools.cycle(spec.api_keys) for name, spec in runtime.providers.items()
        }

    def resolve(self, model: str) -> ModelRoute:
        route = self.runtime.resolve(model)
        if route is None:
            available = ", ".join(self.runtime.public_models()) or "none"
            raise ModelNotFound(
                f"The model '{model}' does not exist or is not served here. Available: {available}",
                param="model",
            )
        return route

    async def __call__(self, call: Call) -> Reply:
        route = self.resolve(call.model)
        candidates = route.deployments if len(route.deployments) == 1 else priority_order(route)
        last_reply: Reply | None = None
        last_error: GatewayError | None = None
        for deployment in candidates:
            provider = self.providers[deployment.provider]
            key = next(self._key_cycles[deployment.provider])
            call.attempts += 1
            call.deployment = deployment.label(call.model)
            try:
                reply = await provider.send(call, deployment, key)
                if reply.chunks is not None:
                    reply.chunks = await _commit(reply.chunks)
            except GatewayError as exc:
                if exc.status < 500:
                    raise
                last_error, last_reply = exc, None
                continue
            if reply.status in _FAILOVER_STATUSES:
                last_reply, last_error = reply, None
                continue
            return reply
        if last_reply is not None:
            return last_reply
        assert last_error is not None
        raise last_error


async def _commit(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Wait for the first chunk (failures so far can still fail over), then replay it."""
    first = await anext(chunks, None)

    async def replay() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await aclose(chunks)

    return replay()


async def aclose(chunks: AsyncIterator[bytes]) -> None:
    """Close an async generator early so its upstream connection is released now, not at GC."""
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()
