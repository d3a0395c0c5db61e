"""Turn command-line choices into a validated config: file, zero-config, demo or one upstream.

Precedence is command line over file over defaults, applied to the raw tree before validation
so every mode is checked by the same validator.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from turnout.config.load import ConfigError, parse_raw, read_environment, read_raw
from turnout.config.modes import add_demo, from_environment, single_upstream
from turnout.config.schema import TurnoutConfig


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
) -> TurnoutConfig:
    env = read_environment(path)
    if path is not None:
        raw = read_raw(path) or {}
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
    source = str(path) if path else "command line"
    return parse_raw(raw, env, source)
