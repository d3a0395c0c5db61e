"""Which plugin a configured name means.

Three ways to name one, looked up in this order when a configuration is checked (never per
request): a built-in name (:data:`BUILTIN`, one line per plugin module), ``"module:Class"``
for a class on the import path, and the name of an entry point in the ``turnout.plugins``
group, for packages installed next to the gateway (docs/plugins.md).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from turnout.plugins.base import Plugin

GROUP = "turnout.plugins"

BUILTIN: dict[str, str] = {
    "auth": "turnout.plugins.builtin:Auth",
    "cache": "turnout.plugins.builtin:Cache",
    "capture": "turnout.plugins.builtin:Capture",
    "keywords": "turnout.plugins.keywords:Keywords",
    "limits": "turnout.plugins.builtin:Limits",
    "max_cost": "turnout.plugins.max_cost:MaxCost",
    "moderation": "turnout.plugins.moderation:Moderation",
    "pii": "turnout.plugins.pii:PII",
    "prompt_injection": "turnout.plugins.prompt_injection:PromptInjection",
}


class UnknownPlugin(ValueError):
    """A configured plugin name that is neither built in, importable nor an entry point."""


def _import(target: str) -> Any:
    module, _, attr = target.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise UnknownPlugin(f"cannot import plugin '{target}': {exc}") from None
    return obj


def plugin_class(name: str) -> type[Plugin]:
    """The class a configured ``plugin`` value names."""
    if name in BUILTIN:
        cls = _import(BUILTIN[name])
    elif ":" in name:
        cls = _import(name)
    else:
        found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
        if not found:
            known = ", ".join(sorted({*BUILTIN, *(ep.name for ep in entry_points(group=GROUP))}))
            raise UnknownPlugin(
                f"unknown plugin '{name}'; known: {known} (or 'package.module:Class')"
            )
        try:
            cls = found[0].load()
        except Exception as exc:  # a broken installed package: say which and why
            raise UnknownPlugin(
                f"plugin '{name}' ({found[0].value}) failed to load: {exc}"
            ) from None
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        raise UnknownPlugin(f"'{name}' is not a turnout.plugins.Plugin subclass")
    return cls
