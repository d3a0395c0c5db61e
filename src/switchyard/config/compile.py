"""Compile a validated config into the immutable objects the request path reads.

The request path must not walk pydantic models or dicts of dicts: it looks a public model up
once (exact names in a dict, then glob patterns in declaration order) and gets a ready tuple of
deployments. Hot reload swaps a whole :class:`Runtime`, never mutates one.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from switchyard.config.schema import SwitchyardConfig

DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "mock": "mock://in-process",
}


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    type: str
    base_url: str
    api_keys: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    forward_headers: tuple[str, ...]
    connect_timeout: float
    read_timeout: float
    total_timeout: float

    def __repr__(self) -> str:  # keys must never reach a log line through a repr
        return f"ProviderSpec(name={self.name!r}, type={self.type!r}, base_url={self.base_url!r})"


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    provider: str
    model: str  # "*" forwards the requested name unchanged
    priority: int
    weight: float

    def upstream_model(self, requested: str) -> str:
        return requested if self.model == "*" else self.model

    def label(self, requested: str) -> str:
        return f"{self.provider}/{self.upstream_model(requested)}"


@dataclass(frozen=True, slots=True)
class ModelRoute:
    name: str
    strategy: str
    deployments: tuple[DeploymentSpec, ...]


@dataclass(frozen=True, slots=True)
class Runtime:
    config: SwitchyardConfig
    providers: Mapping[str, ProviderSpec]
    models: Mapping[str, ModelRoute]
    patterns: tuple[ModelRoute, ...] = field(default=())

    def resolve(self, model: str) -> ModelRoute | None:
        route = self.models.get(model)
        if route is not None:
            return route
        for pattern in self.patterns:
            if fnmatch.fnmatchcase(model, pattern.name):
                return pattern
        return None

    def public_models(self) -> list[str]:
        return [*self.models, *(p.name for p in self.patterns)]


def _is_pattern(name: str) -> bool:
    return any(c in name for c in "*?[")


def compile_config(config: SwitchyardConfig) -> Runtime:
    providers = {
        name: ProviderSpec(
            name=name,
            type=p.type,
            base_url=(p.base_url or DEFAULT_BASE_URLS.get(p.type, "")).rstrip("/"),
            api_keys=tuple(p.api_keys) or ("",),
            headers=tuple(p.headers.items()),
            forward_headers=tuple(h.lower() for h in p.forward_headers),
            connect_timeout=p.timeouts.connect,
            read_timeout=p.timeouts.read,
            total_timeout=p.timeouts.total,
        )
        for name, p in config.providers.items()
    }
    exact: dict[str, ModelRoute] = {}
    patterns: list[ModelRoute] = []
    for name, m in config.models.items():
        deployments = tuple(
            sorted(
                (DeploymentSpec(d.provider, d.model, d.priority, d.weight) for d in m.deployments),
                key=lambda d: d.priority,
            )
        )
        route = ModelRoute(name=name, strategy=m.strategy, deployments=deployments)
        if _is_pattern(name):
            patterns.append(route)
        else:
            exact[name] = route
    # A bare "*" catches everything, so it must be tried last whatever its position in the file.
    patterns.sort(key=lambda r: r.name == "*")
    return Runtime(
        config=config,
        providers=MappingProxyType(providers),
        models=MappingProxyType(exact),
        patterns=tuple(patterns),
    )
