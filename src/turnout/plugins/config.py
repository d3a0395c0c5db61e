"""The ``plugins:`` section, checked and compiled.

Checking (``turnout check``, start, reload) finds every plugin class and validates its
settings, and each override's settings merged over them, with the plugin's own ``Settings``
model, so a misspelt setting is refused with its path rather than met by the first request.

Compiling turns the entries into a :class:`PluginSet`: which plugin instances run for a call
is decided by (model, team, key) and memoised; a pipeline whose entries select nothing by
model, team or key has one fixed chain and no lookup at all.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from turnout.config.messages import format_path
from turnout.config.schema import PluginEntry, PluginOverride
from turnout.plugins.base import Host, Plugin
from turnout.plugins.registry import UnknownPlugin, plugin_class

_MEMO_MAX = 10_000


def plugin_problems(raw: Any) -> list[str]:
    """Problems of the raw ``plugins:`` list that the schema cannot see: unknown plugins,
    settings their own schema refuses, names used twice."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("plugin"), str):
            continue  # the schema reports it
        where = f"plugins[{i}]"
        try:
            cls = plugin_class(entry["plugin"])
        except UnknownPlugin as exc:
            problems.append(f"{where}.plugin: {exc}")
            continue
        name = entry.get("name") or entry["plugin"]
        if name in seen:
            problems.append(f"{where}.name: '{name}' is used twice; give one a 'name'")
        seen.add(str(name))
        base = entry.get("settings") or {}
        if not isinstance(base, dict):
            continue
        problems.extend(_settings_problems(cls, base, (where, "settings")))
        overrides = entry.get("overrides")
        for j, override in enumerate(overrides if isinstance(overrides, list) else []):
            extra = override.get("settings") if isinstance(override, dict) else None
            if isinstance(extra, dict) and extra:
                loc = (where, "overrides", j, "settings")
                problems.extend(_settings_problems(cls, {**base, **extra}, loc))
    return problems


def _settings_problems(
    cls: type[Plugin], settings: dict[str, Any], loc: tuple[Any, ...]
) -> list[str]:
    try:
        cls.Settings.model_validate(settings)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            path = format_path((*loc, *err["loc"]))
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            out.append(f"{path}: {msg}")
        return out
    return []


@dataclass(frozen=True, slots=True)
class Bound:
    """One plugin instance as a call runs it: its hooks (None when not overridden)."""

    name: str
    plugin: Plugin
    timeout: float | None
    fail_open: bool
    before: Any
    after: Any
    on_chunk: Any
    on_stream_end: Any
    around: Any


def _hook(plugin: Plugin, name: str) -> Any:
    """The bound hook, or None when the class does not override it or the instance skips it."""
    if getattr(type(plugin), name) is getattr(Plugin, name) or name in plugin.skip:
        return None
    return getattr(plugin, name)


def _matches(
    patterns: Sequence[str],
    teams: frozenset[str],
    keys: frozenset[str],
    model: str,
    team: str | None,
    key: str | None,
) -> bool:
    if patterns and not any(fnmatch.fnmatchcase(model, p) for p in patterns):
        return False
    if teams and team not in teams:
        return False
    return not (keys and key not in keys)


@dataclass(frozen=True, slots=True)
class _Override:
    models: tuple[str, ...]
    teams: frozenset[str]
    keys: frozenset[str]
    enabled: bool | None
    settings: dict[str, Any]

    @classmethod
    def of(cls, o: PluginOverride) -> _Override:
        return cls(tuple(o.models), frozenset(o.teams), frozenset(o.keys), o.enabled, o.settings)

    def matches(self, model: str, team: str | None, key: str | None) -> bool:
        return _matches(self.models, self.teams, self.keys, model, team, key)


class _Entry:
    def __init__(self, entry: PluginEntry, host: Host) -> None:
        self.cls = plugin_class(entry.plugin)
        self.name = entry.name or entry.plugin
        self.enabled = entry.enabled
        self.models = tuple(entry.models)
        self.teams = frozenset(entry.teams)
        self.keys = frozenset(entry.keys)
        self.timeout = entry.timeout if entry.timeout is not None else self.cls.timeout
        self.fail_open = entry.on_error == "fail_open"
        self.settings = dict(entry.settings)
        self.overrides = tuple(_Override.of(o) for o in entry.overrides)
        self.host = host
        self.selective = bool(self.models or self.teams or self.keys or self.overrides)
        self.possible = self.enabled or any(o.enabled for o in self.overrides)
        self._bound: dict[tuple[int, ...], Bound] = {}

    def bound(self, chosen: tuple[int, ...] = ()) -> Bound:
        """The instance for this combination of overrides' settings (built once)."""
        found = self._bound.get(chosen)
        if found is None:
            settings = dict(self.settings)
            for i in chosen:
                settings.update(self.overrides[i].settings)
            plugin = self.cls(self.cls.Settings.model_validate(settings), self.host)
            found = self._bound[chosen] = Bound(
                self.name,
                plugin,
                self.timeout,
                self.fail_open,
                _hook(plugin, "before"),
                _hook(plugin, "after"),
                _hook(plugin, "on_chunk"),
                _hook(plugin, "on_stream_end"),
                _hook(plugin, "around"),
            )
        return found

    def select(self, model: str, team: str | None, key: str | None) -> Bound | None:
        enabled = self.enabled and _matches(self.models, self.teams, self.keys, model, team, key)
        chosen: list[int] = []
        for i, o in enumerate(self.overrides):
            if not o.matches(model, team, key):
                continue
            if o.enabled is not None:
                enabled = o.enabled
            if o.settings:
                chosen.append(i)
        return self.bound(tuple(chosen)) if enabled else None


class PluginSet:
    """The compiled pipeline: which plugin instances run, in order, for a call."""

    def __init__(self, entries: Sequence[PluginEntry], host: Host) -> None:
        self.host = host
        # Entries that no call can turn on are left out (so an all-off pipeline is no step).
        self.entries = [e for e in (_Entry(x, host) for x in entries) if e.possible]
        self.static: tuple[Bound, ...] | None = None
        if not any(e.selective for e in self.entries):
            self.static = tuple(e.bound() for e in self.entries if e.enabled)
        self._memo: dict[tuple[str, str | None, str | None], tuple[Bound, ...]] = {}

    @property
    def active(self) -> bool:
        """Whether any call can run a plugin: otherwise the step stays out of the chain."""
        return bool(self.entries)

    def plugins(self) -> list[Plugin]:
        """Every instance built so far (for start and stop)."""
        return [b.plugin for e in self.entries for b in e._bound.values()]

    def chain(self, model: str, team: str | None, key: str | None) -> tuple[Bound, ...]:
        """The plugins for a call (the caller reads ``static`` first when there is one)."""
        if self.static is not None:
            return self.static
        memo_key = (model, team, key)
        found = self._memo.get(memo_key)
        if found is None:
            found = tuple(b for e in self.entries if (b := e.select(model, team, key)) is not None)
            if len(self._memo) >= _MEMO_MAX:  # client-chosen model names: keep it bounded
                self._memo.clear()
            self._memo[memo_key] = found
        return found
