"""Compile a validated config into the immutable objects the request path reads.

The request path must not walk pydantic models or dicts of dicts: it looks a public model up
once (exact names in a dict, then glob patterns in declaration order) and gets a ready tuple of
deployments. Hot reload swaps a whole :class:`Runtime`, never mutates one.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from turnout.config.providers import ErrorRule, ProviderConfig
from turnout.config.schema import TurnoutConfig
from turnout.upstream.base import DEFAULT_EGRESS, Egress


@dataclass(frozen=True, slots=True)
class ErrorRuleSpec:
    """One compiled error-parsing rule (see :mod:`turnout.routing.classify`)."""

    reason: str
    priority: int = 0
    statuses: frozenset[int] | None = None  # None: any status
    path: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = None


def compile_rule(rule: ErrorRule) -> ErrorRuleSpec:
    statuses: frozenset[int] | None
    if rule.status is None:
        statuses = None
    elif isinstance(rule.status, int):
        statuses = frozenset({rule.status})
    else:
        statuses = frozenset(rule.status)
    return ErrorRuleSpec(
        reason=rule.reason,
        priority=rule.priority,
        statuses=statuses,
        path=tuple(rule.path.split(".")) if rule.path else None,
        pattern=re.compile(rule.match) if rule.match is not None else None,
    )


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
    shared_key_status: bool = False
    error_rules: tuple[ErrorRuleSpec, ...] = ()
    probe_model: str | None = None
    probe: bool = True
    egress: Egress = DEFAULT_EGRESS  # proxy, TLS, connection limit, outbound origin
    max_response_bytes: int = 32 * 1024 * 1024  # an upstream body read whole; 0: no cap
    options: Any = None  # the type's options, validated (ProviderType.options); None: none
    streaming_mode: str = "auto"  # "disabled": never ask for a stream (providers/unstreamed.py)
    token_header: tuple[str, str] | None = None  # OAuth: (header, prefix) over the type's own

    def __repr__(self) -> str:  # keys must never reach a log line through a repr
        return f"ProviderSpec(name={self.name!r}, type={self.type!r}, base_url={self.base_url!r})"


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    provider: str
    model: str  # "*" forwards the requested name unchanged
    priority: int
    weight: float
    max_concurrent: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    input_price: float | None = None  # USD per million tokens
    output_price: float | None = None
    api: str | None = None  # the wire protocol to call instead of the provider's own

    @property
    def id(self) -> str:
        """Health is tracked per upstream deployment, shared by every model that lists it."""
        return f"{self.provider}/{self.model}"

    def upstream_model(self, requested: str) -> str:
        return requested if self.model == "*" else self.model

    def label(self, requested: str) -> str:
        return f"{self.provider}/{self.upstream_model(requested)}"


@dataclass(frozen=True, slots=True)
class ModelRoute:
    name: str
    strategy: str
    deployments: tuple[DeploymentSpec, ...]
    strategy_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    fallbacks: tuple[str, ...] = ()
    context_fallbacks: tuple[str, ...] = ()
    max_attempts: int = 3
    deadline: float = 600.0
    cache_ttl: float | None = None  # seconds answers are cached; None: not cached


@dataclass(frozen=True, slots=True)
class Runtime:
    config: TurnoutConfig
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

    def routes(self) -> tuple[ModelRoute, ...]:
        return (*self.models.values(), *self.patterns)

    def public_models(self) -> list[str]:
        return [*self.models, *(p.name for p in self.patterns)]


def _cache_ttl(setting: bool | float | None, config: TurnoutConfig) -> float | None:
    """A model's cache TTL: its own number, the global TTL if true (or unset with
    ``cache.default``), None if caching is off for it."""
    if setting is None:
        setting = config.cache.default
    if setting is True:
        return config.cache.ttl
    return None if setting is False else float(setting)


def _is_pattern(name: str) -> bool:
    return any(c in name for c in "*?[")


def _default_base_url(type_name: str, options: Any = None) -> str:
    """The type's default base URL; a cloud's names its region from the options
    (``https://bedrock-runtime.{region}.amazonaws.com``)."""
    from turnout.providers.registry import provider_type  # provider modules import this one

    url = provider_type(type_name).base_url or ""
    if "{" in url and options is not None:
        url = url.format_map(options.model_dump())
    return url


def _options(type_name: str, options: Mapping[str, Any]) -> Any:
    """The type's options as its own model (validated already: validate.py)."""
    from turnout.providers.registry import provider_type

    model = provider_type(type_name).options
    return model.model_validate(dict(options)) if model is not None else None


def _token_header(p: ProviderConfig) -> tuple[str, str] | None:
    """How an OAuth account's access token travels, when the profile says otherwise than the
    provider type (docs/oauth.md)."""
    o = p.oauth
    if p.auth != "oauth" or o is None or (o.header is None and o.prefix is None):
        return None
    header = (o.header or "authorization").lower()
    return header, o.prefix if o.prefix is not None else (
        "Bearer " if header == "authorization" else ""
    )


def compile_config(config: TurnoutConfig) -> Runtime:
    options = {name: _options(p.type, p.options) for name, p in config.providers.items()}
    providers = {
        name: ProviderSpec(
            name=name,
            type=p.type,
            base_url=(p.base_url or _default_base_url(p.type, options[name])).rstrip("/"),
            api_keys=tuple(p.api_keys) or ("",),
            headers=tuple(p.headers.items()),
            forward_headers=tuple(h.lower() for h in p.forward_headers),
            connect_timeout=p.timeouts.connect,
            read_timeout=p.timeouts.read,
            total_timeout=p.timeouts.total,
            shared_key_status=p.shared_key_status,
            error_rules=tuple(compile_rule(r) for r in p.error_rules),
            probe_model=p.probe_model,
            probe=p.probe,
            egress=Egress(
                proxy=p.proxy,
                ca_file=p.tls.ca_file,
                cert_file=p.tls.cert_file,
                key_file=p.tls.key_file,
                verify=p.tls.verify,
                max_connections=p.max_connections,
                pool_timeout=p.pool_timeout,
            ),
            max_response_bytes=p.max_response_bytes,
            options=options[name],
            streaming_mode=p.streaming_mode,
            token_header=_token_header(p),
        )
        for name, p in config.providers.items()
    }
    exact: dict[str, ModelRoute] = {}
    patterns: list[ModelRoute] = []
    for name, m in config.models.items():
        deployments = tuple(
            sorted(
                (
                    DeploymentSpec(
                        d.provider,
                        d.model,
                        d.priority,
                        d.weight,
                        max_concurrent=d.max_concurrent,
                        rpm=d.rpm,
                        tpm=d.tpm,
                        input_price=d.price.input if d.price else None,
                        output_price=d.price.output if d.price else None,
                        api=d.api,
                    )
                    for d in m.deployments
                ),
                key=lambda d: d.priority,
            )
        )
        route = ModelRoute(
            name=name,
            strategy=m.strategy,
            deployments=deployments,
            strategy_options=MappingProxyType(dict(m.strategy_options)),
            fallbacks=tuple(m.fallbacks),
            context_fallbacks=tuple(m.context_fallbacks),
            max_attempts=m.max_attempts or config.routing.max_attempts,
            deadline=m.deadline or config.routing.deadline,
            cache_ttl=_cache_ttl(m.cache, config),
        )
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
