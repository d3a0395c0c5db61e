"""Turn command-line choices into a validated config: file, zero-config, demo or one upstream.

Precedence is command line over file over defaults, applied to the raw tree before validation
so every mode is checked by the same validator. Commands that need one part of the config
(``db``, ``keys``, ``usage`` need the database; ``status`` the address) validate only that
part, so a provider key missing from the environment does not stop a database upgrade.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from turnout.config.load import ConfigError, Lines, parse_raw, read_environment, read_located
from turnout.config.modes import add_demo, env_keys, from_environment, single_upstream
from turnout.config.schema import TurnoutConfig


class NoProviders(Exception):
    """Nothing to route to: every model request would answer 404. Says how to get one."""


def config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get("TURNOUT_CONFIG")
    return Path(env) if env else None


def build_config(
    path: Path | None,
    *,
    demo: bool = False,
    base_url: str | None = None,
    upstream_type: str = "openai-compatible",
    api_key: str | None = None,
    server: dict[str, Any] | None = None,
    log_level: str | None = None,
    reloading: bool = False,
) -> TurnoutConfig:
    env = read_environment(path)
    lines: Lines = {}
    if path is not None:
        raw, lines = read_located(path, reloading=reloading)
        raw = raw or {}
        if not isinstance(raw, dict):
            raise ConfigError(["<root>: expected a mapping at the top of the file"], str(path))
    elif base_url is not None:
        raw = single_upstream(base_url, upstream_type, api_key)
    else:
        raw = from_environment(env)
    if base_url is not None and path is not None:
        upstream = single_upstream(base_url, upstream_type, api_key)
        raw.setdefault("providers", {}).update(upstream["providers"])
        raw.setdefault("models", {}).update(upstream["models"])
    if demo:
        raw = add_demo(raw)
    overrides = {k: v for k, v in (server or {}).items() if v is not None}
    if overrides:
        current = raw.get("server")
        raw["server"] = {**(current if isinstance(current, dict) else {}), **overrides}
    if log_level is not None:
        current = raw.get("logging")
        raw["logging"] = {**(current if isinstance(current, dict) else {}), "level": log_level}
    source = str(path) if path else "command line"
    return parse_raw(raw, env, source, lines)


def partial_config(path: Path | None, *sections: str) -> TurnoutConfig:
    """The config with only ``sections`` read from the file (the rest left at defaults)."""
    env = read_environment(path)
    if path is None:
        return parse_raw({}, env, "defaults")
    raw, lines = read_located(path)
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(["<root>: expected a mapping at the top of the file"], str(path))
    kept = {k: v for k, v in (raw or {}).items() if k in sections}
    return parse_raw(kept, env, str(path), lines)


def no_providers(cfg: TurnoutConfig, path: Path | None) -> NoProviders | None:
    """Why this config routes nothing, and what to do about it; None when it routes."""
    if cfg.providers:
        return None
    if path is None:
        return NoProviders(
            f"no providers: none of {', '.join(env_keys())} is set. Set one, give a config "
            "file with -c FILE (or TURNOUT_CONFIG), or try `turnout serve --demo` for a "
            "built-in mock model."
        )
    return NoProviders(
        f"no providers in {path}: every model request would answer 404. Add one "
        f"(`turnout config create provider:openai -c {path}`) or try --demo."
    )
