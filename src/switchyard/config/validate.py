"""Turn a raw config tree into a :class:`SwitchyardConfig` or a list of path-addressed problems.

Users fix configs faster when they see every mistake at once, each with its path and, for
misspellings, the name they probably meant; pydantic's own messages are terse and its paths
use tuples, so they are rewritten here.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from switchyard.config.schema import PROVIDER_TYPES, SwitchyardConfig


def format_path(loc: tuple[str | int, ...]) -> str:
    """Render a pydantic location as users write paths: ``models.m.deployments[1].provider``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "<root>"


def _suggest(word: str, choices: typing.Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The schema class that owns the mapping at ``loc`` (to list its allowed keys)."""
    current: Any = SwitchyardConfig
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            continue
        current = _unwrap(current)
        origin = get_origin(current)
        if origin in (dict, list):
            current = get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """Strip ``X | None`` so the walk can continue into X."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = format_path(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            owner = _model_at(loc[:-1])
            allowed = sorted(owner.model_fields) if owner else []
            hint = _suggest(str(loc[-1]), allowed)
            known = f" (allowed: {', '.join(allowed)})" if allowed and not hint else ""
            problems.append(f"{path}: unknown key{hint}{known}")
        elif kind == "literal_error" and loc and loc[-1] == "type":
            given = str(err.get("input"))
            problems.append(
                f"{path}: unknown provider type '{given}'{_suggest(given, PROVIDER_TYPES)}"
                f" (known: {', '.join(PROVIDER_TYPES)})"
            )
        elif kind == "missing":
            problems.append(f"{path}: required")
        else:
            problems.append(f"{path}: {err['msg']}")
    return problems


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
        if ptype == "openai-compatible" and not base_url:
            problems.append(f"providers.{pname}.base_url: required for type {ptype}")
        if isinstance(base_url, str) and not base_url.startswith(("http://", "https://")):
            problems.append(f"providers.{pname}.base_url: must start with http:// or https://")
        if ptype in PROVIDER_TYPES and ptype != "mock" and not provider.get("api_keys"):
            problems.append(f"providers.{pname}.api_keys: at least one key is required")
    models = data.get("models")
    for mname, model in (models if isinstance(models, dict) else {}).items():
        deployments = model.get("deployments") if isinstance(model, dict) else None
        for i, dep in enumerate(deployments if isinstance(deployments, list) else []):
            ref = dep.get("provider") if isinstance(dep, dict) else None
            if isinstance(ref, str) and ref not in providers:
                known = ", ".join(names) or "none configured"
                problems.append(
                    f"models.{mname}.deployments[{i}].provider: unknown provider "
                    f"'{ref}'{_suggest(ref, names)} (known: {known})"
                )
    return problems


def validate(data: dict[str, Any]) -> tuple[SwitchyardConfig | None, list[str]]:
    """Validate a whole tree; return the config (if valid) and every problem found."""
    problems = _reference_problems(data)
    try:
        config = SwitchyardConfig.model_validate(data)
    except ValidationError as exc:
        return None, _pydantic_problems(exc) + problems
    return (None if problems else config), problems
