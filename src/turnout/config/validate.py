"""Turn a raw config tree into a :class:`TurnoutConfig` or a list of path-addressed problems.

Users fix configs faster when they see every mistake at once, each with its path and, for
misspellings, the name they probably meant; pydantic's own messages are terse and its paths
use tuples, so they are rewritten here.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from turnout.config.messages import (
    format_path,
    pydantic_problems,
    shown,
    suggest,
    url_problem,
)
from turnout.config.schema import TurnoutConfig
from turnout.headers import HOP_BY_HOP, forwardable

if TYPE_CHECKING:
    from turnout.providers.descriptor import ProviderType as Kind

__all__ = ["format_path", "validate"]


def _reference_problems(data: dict[str, Any]) -> list[str]:
    """Cross-references pydantic cannot see, checked on the raw tree so that they are reported
    together with schema errors rather than after the user fixed those."""
    problems: list[str] = []
    providers = data.get("providers")
    providers = providers if isinstance(providers, dict) else {}
    names = [str(n) for n in providers]
    for pname, provider in providers.items():
        if not isinstance(provider, dict):
            continue
        ptype, base_url = provider.get("type"), provider.get("base_url")
        kind = _kind(ptype)  # None: an unknown type, reported by the schema
        if kind is not None and kind.base_url is None and not base_url:
            problems.append(f"providers.{pname}.base_url: required for type {ptype}")
        if isinstance(base_url, str) and (bad := url_problem(base_url, ("http", "https"))):
            problems.append(f"providers.{pname}.base_url: {bad}")
        oauth = provider.get("auth") == "oauth"
        if kind is not None and kind.needs_key and not provider.get("api_keys") and not oauth:
            problems.append(f"providers.{pname}.api_keys: at least one key is required")
        if oauth and not isinstance(provider.get("oauth"), dict):
            problems.append(f"providers.{pname}.oauth: required with auth: oauth")
        problems.extend(_rule_problems(str(pname), provider.get("error_rules")))
        problems.extend(_option_problems(str(pname), kind, provider.get("options")))
        problems.extend(_egress_problems(str(pname), provider))
        problems.extend(_header_problems(str(pname), provider))
    problems.extend(_outbound_problems(data.get("outbound")))
    if data.get("plugins"):
        from turnout.plugins.config import plugin_problems
        from turnout.plugins.stages import order_problems

        problems.extend(plugin_problems(data["plugins"]))
        if isinstance(data["plugins"], list):
            problems.extend(order_problems(data["plugins"]))
    for section in ("limits", "cache", "shared"):
        block = data.get(section)
        url = block.get("redis_url") if isinstance(block, dict) else None
        if isinstance(url, str):
            from turnout.redisconn import parse_redis_url

            try:
                target = parse_redis_url(url)
            except ValueError as exc:
                problems.append(f"{section}.redis_url: {exc}")
                continue
            hosts = [f"redis://[{h}]" if ":" in h else f"redis://{h}" for h, _ in target.hosts]
            if any(url_problem(h, ("redis",)) for h in hosts):  # a placeholder: redis://…
                problems.append(f"{section}.redis_url: needs a valid host name{shown(url, ())}")
    tracing = data.get("tracing")
    endpoint = tracing.get("endpoint") if isinstance(tracing, dict) else None
    if isinstance(endpoint, str) and (bad := url_problem(endpoint, ("http", "https"))):
        problems.append(f"tracing.endpoint: {bad}")
    models = data.get("models")
    models = models if isinstance(models, dict) else {}
    model_names = _ModelNames(models)  # once: per model, it made validation quadratic
    for mname, model in models.items():
        if isinstance(model, dict):
            problems.extend(_routing_problems(str(mname), model, model_names))
        deployments = model.get("deployments") if isinstance(model, dict) else None
        for i, dep in enumerate(deployments if isinstance(deployments, list) else []):
            ref = dep.get("provider") if isinstance(dep, dict) else None
            if isinstance(ref, str) and ref not in providers:
                known = ", ".join(names) or "none configured"
                problems.append(
                    f"models.{mname}.deployments[{i}].provider: unknown provider "
                    f"'{ref}'{suggest(ref, names)} (known: {known})"
                )
            elif isinstance(ref, str) and isinstance(api := dep.get("api"), str):
                entry = providers.get(ref)
                kind = _kind(entry.get("type") if isinstance(entry, dict) else None)
                if kind is not None and api != kind.protocol and api not in kind.also_speaks:
                    problems.append(
                        f"models.{mname}.deployments[{i}].api: the provider '{ref}' "
                        f"({kind.name}) does not speak the {api} API"
                    )
    return problems


def _egress_problems(pname: str, provider: dict[str, Any]) -> list[str]:
    """A proxy URL that cannot be used, TLS files that do not exist: found at load, not at
    the first request."""
    from pathlib import Path

    from turnout.upstream.proxy import Proxy

    problems: list[str] = []
    proxy = provider.get("proxy")
    if isinstance(proxy, str) and proxy.lower() not in ("none", "direct", ""):
        try:
            Proxy.parse(proxy)
        except ValueError as exc:
            problems.append(f"providers.{pname}.proxy: {exc}")
    tls = provider.get("tls")
    for field_name in ("ca_file", "cert_file", "key_file"):
        value = tls.get(field_name) if isinstance(tls, dict) else None
        if isinstance(value, str) and not Path(value).is_file():
            problems.append(f"providers.{pname}.tls.{field_name}: no such file {value!r}")
    if isinstance(tls, dict) and tls.get("key_file") and not tls.get("cert_file"):
        problems.append(f"providers.{pname}.tls.key_file: needs cert_file")
    return problems


def _outbound_problems(outbound: Any) -> list[str]:
    import ipaddress

    problems: list[str] = []
    allow = outbound.get("allow") if isinstance(outbound, dict) else None
    for i, entry in enumerate(allow if isinstance(allow, list) else []):
        if not isinstance(entry, str) or not entry:
            continue
        looks_numeric = all(c in "0123456789abcdefABCDEF.:/" for c in entry) and (
            "/" in entry or entry.count(".") == 3 or ":" in entry
        )
        if looks_numeric:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                problems.append(f"outbound.allow[{i}]: {exc}")
    return problems


def _kind(ptype: Any) -> Kind | None:
    from turnout.providers.registry import UnknownProviderType, provider_type

    if not isinstance(ptype, str):
        return None
    try:
        return provider_type(ptype)
    except UnknownProviderType:
        return None


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _header_problems(pname: str, provider: dict[str, Any]) -> list[str]:
    """Static headers must be writable and must not be framing or credentials the gateway
    sets itself; forward_headers naming such a header would silently do nothing."""
    problems: list[str] = []
    headers = provider.get("headers")
    for name, value in headers.items() if isinstance(headers, dict) else ():
        where = f"providers.{pname}.headers.{name}"
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            problems.append(f"{where}: not a valid header name")
        elif name.lower().encode() in HOP_BY_HOP:
            problems.append(f"{where}: framing and hop-by-hop headers are set by the gateway")
        if isinstance(value, str) and _CONTROL.search(value):
            problems.append(f"{where}: the value contains control characters (CR, LF, NUL…)")
    forward = provider.get("forward_headers")
    for i, pattern in enumerate(forward if isinstance(forward, list) else []):
        if (
            isinstance(pattern, str)
            and not any(c in pattern for c in "*?[")
            and not forwardable(pattern.lower().encode("latin-1", "replace"))
        ):
            problems.append(
                f"providers.{pname}.forward_headers[{i}]: '{pattern}' is never forwarded "
                "(hop-by-hop, framing, credentials or set by the gateway; docs/security.md)"
            )
    return problems


def _option_problems(pname: str, kind: Kind | None, options: Any) -> list[str]:
    """A type's ``options:`` block, checked against the model its descriptor names."""
    options = {} if options is None else options  # required options are missing too
    if kind is None or not isinstance(options, dict):
        return []  # an unknown type or a non-mapping: reported by the schema
    if kind.options is None:
        return [f"providers.{pname}.options: type {kind.name} takes no options"] if options else []
    try:
        kind.options.model_validate(options)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            path = format_path(("providers", pname, "options", *err["loc"]))
            msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"]
            out.append(f"{path}: {msg}")
        return out
    return []


def _rule_problems(pname: str, rules: Any) -> list[str]:
    problems: list[str] = []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict):
            continue
        where = f"providers.{pname}.error_rules[{i}]"
        pattern = rule.get("match")
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"{where}.match: invalid regular expression: {exc}")
        path = rule.get("path")
        if isinstance(path, str) and (not path or any(not part for part in path.split("."))):
            problems.append(f"{where}.path: expected a dotted path such as 'error.code'")
    return problems


class _ModelNames:
    """The model names a fallback may name: exact ones, and the patterns among them."""

    def __init__(self, models: dict[str, Any]) -> None:
        self.models = models
        self.exact = [str(n) for n in models]
        self.patterns = [n for n in self.exact if any(ch in n for ch in "*?[")]


def _routing_problems(mname: str, model: dict[str, Any], known: _ModelNames) -> list[str]:
    """Strategy names and options, and fallback models that must exist."""
    from turnout.routing.strategies import STRATEGIES, UnknownStrategy, strategy_class

    problems: list[str] = []
    strategy = model.get("strategy", "priority")
    if isinstance(strategy, str):
        try:
            cls = strategy_class(strategy)
        except UnknownStrategy as exc:
            hint = suggest(strategy, STRATEGIES) if ":" not in strategy else ""
            text = str(exc) if not hint else f"unknown strategy '{strategy}'{hint}"
            problems.append(f"models.{mname}.strategy: {text}")
        else:
            options = model.get("strategy_options") or {}
            if isinstance(options, dict):
                try:
                    cls.Options.model_validate(options)
                except ValidationError as exc:
                    for err in exc.errors():
                        path = format_path(("models", mname, "strategy_options", *err["loc"]))
                        msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"]
                        problems.append(f"{path}: {msg}")
    models, exact, patterns = known.models, known.exact, known.patterns
    for field in ("fallbacks", "context_fallbacks"):
        names = model.get(field)
        for i, name in enumerate(names if isinstance(names, list) else []):
            if not isinstance(name, str):
                continue
            where = f"models.{mname}.{field}[{i}]"
            if name == mname:
                problems.append(f"{where}: a model cannot fall back to itself")
            elif name not in models and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
                problems.append(f"{where}: unknown model '{name}'{suggest(name, exact)}")
    return problems


def validate(data: dict[str, Any]) -> tuple[TurnoutConfig | None, list[str]]:
    """Validate a whole tree; return the config (if valid) and every problem found."""
    problems = _reference_problems(data)
    try:
        config = TurnoutConfig.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(exc) + problems
    return (None if problems else config), problems
