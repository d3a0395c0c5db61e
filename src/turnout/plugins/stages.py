"""The whole pipeline: the gateway's own steps and the configured plugins, in one order.

``plugins:`` may name the built-in steps (:mod:`turnout.plugins.builtin`) to move them or to
switch them per model, team or key; those it does not name keep their default places
(capture, auth, limits ahead of the configured plugins, the cache behind them). The arranged
list is cut into stages: each ``around`` plugin is a stage of its own (it wraps everything
after it), and each run of hook plugins between them is one :class:`PluginStep`.

Assembly (:meth:`Pipeline.steps`, at start and after every reload or key change) turns the
stages into the chain's steps. A stage that is on for every call and is a built-in puts its
service's step in as it is, so a configuration that does not mention the built-ins builds
exactly the chain it always did; a stage that depends on the call chooses per (model, team,
key), memoised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from turnout.config.schema import PluginEntry
from turnout.pipeline import Step
from turnout.plugins.base import Host, Plugin, Run
from turnout.plugins.builtin import NAMES, BuiltinStep
from turnout.plugins.config import Bound, PluginSet
from turnout.plugins.registry import UnknownPlugin, plugin_class
from turnout.plugins.runner import PluginStep
from turnout.types import Call, Handler, Reply


def placed(named: Sequence[Any]) -> list[tuple[str, int | None]]:
    """The pipeline's order: each configured entry by its index, with every built-in step the
    list does not name in its default place: ``capture`` and ``auth`` at the front (in that
    order), ``limits`` right after ``auth`` wherever that is, ``cache`` at the end."""
    order: list[tuple[str, int | None]] = [(str(n), i) for i, n in enumerate(named)]
    if "auth" not in named:
        order.insert(0, ("auth", None))
    if "capture" not in named:
        order.insert(0, ("capture", None))
    if "limits" not in named:
        auth = next(i for i, (n, _) in enumerate(order) if n == "auth")
        order.insert(auth + 1, ("limits", None))
    if "cache" not in named:
        order.append(("cache", None))
    return order


def arrange(entries: Sequence[PluginEntry]) -> list[PluginEntry]:
    """The configured entries with every built-in step they do not name in its place."""
    order = placed([e.plugin for e in entries])
    return [entries[i] if i is not None else PluginEntry(plugin=n) for n, i in order]


def _is_around(cls: type[Plugin]) -> bool:
    return cls.around is not Plugin.around


def order_problems(raw: list[Any]) -> list[str]:
    """What the built-in steps' places and switches must respect (the schema and each
    plugin's settings are checked elsewhere)."""
    problems: list[str] = []
    entries = [(i, e) for i, e in enumerate(raw) if isinstance(e, dict)]
    named = [e.get("plugin") for e in raw]
    order = placed(named)
    position = {i: at for at, (_, i) in enumerate(order) if i is not None}
    for i, e in entries:
        name, where = e.get("plugin"), f"plugins[{i}]"
        if not isinstance(name, str):
            continue
        if name in NAMES and named.count(name) > 1 and named.index(name) != i:
            problems.append(f"{where}.plugin: the built-in step '{name}' may appear only once")
        try:
            around = _is_around(plugin_class(name))
        except UnknownPlugin:
            continue  # reported with the settings
        if around:
            for key in ("timeout", "on_error"):
                if key in e:
                    problems.append(
                        f"{where}.{key}: '{name}' wraps the rest of the call and has no time "
                        "budget or on_error"
                    )
        if name == "auth":
            overrides = _overrides(e)
            if e.get("enabled") is False or any(
                isinstance(o, dict) and o.get("enabled") is False for o in overrides
            ):
                problems.append(
                    f"{where}.enabled: 'auth' cannot be switched off; a gateway without a "
                    "master key or gateway keys is open already"
                )
    names = [n for n, _ in order]
    auth = names.index("auth")
    if names.index("limits") < auth:
        problems.append("plugins: 'limits' must come after 'auth' (limits are per key and team)")
    for i, e in entries:
        if position[i] >= auth:
            continue
        overrides = _overrides(e)
        if (
            e.get("teams")
            or e.get("keys")
            or any(isinstance(o, dict) and (o.get("teams") or o.get("keys")) for o in overrides)
        ):
            problems.append(
                f"plugins[{i}]: it runs before 'auth', where the caller's team and key are "
                "not known yet; select it by model only, or move it after 'auth'"
            )
    return problems


def _overrides(entry: dict[str, Any]) -> list[Any]:
    found = entry.get("overrides")
    return found if isinstance(found, list) else []


class Pipeline:
    """The compiled stages of one configuration."""

    def __init__(self, entries: Sequence[PluginEntry], host: Host) -> None:
        self.host = host
        self.stages: list[tuple[bool, PluginSet]] = []  # (around?, its entries)
        hooks: list[PluginEntry] = []
        for entry in arrange(entries):
            if _is_around(plugin_class(entry.plugin)):
                if hooks:
                    self.stages.append((False, PluginSet(hooks, host)))
                    hooks = []
                self.stages.append((True, PluginSet([entry], host)))
            else:
                hooks.append(entry)
        if hooks:
            self.stages.append((False, PluginSet(hooks, host)))

    def plugins(self) -> list[Plugin]:
        """Every instance built so far (for start and stop)."""
        return [p for _, s in self.stages for p in s.plugins()]

    def steps(self, lead: Mapping[str, Step] | None = None) -> list[Step]:
        """The chain's steps for the services' current steps (``host.steps``); ``lead``
        names a step to put right in front of a built-in's place (or last, if that built-in
        is not in the chain)."""
        out: list[Step] = []
        waiting = dict(lead or {})
        for around, s in self.stages:
            if not s.active:
                continue
            if not around:
                out.append(PluginStep(s))
                continue
            entry = s.entries[0]
            builtin = issubclass(entry.cls, BuiltinStep)
            service = self.host.steps.get(entry.name) if builtin else None
            if builtin and service is None:
                continue  # that service is off: nothing to put in
            if entry.name in waiting:
                out.append(waiting.pop(entry.name))
            if s.static is not None:  # the same for every call
                if not s.static:
                    continue
                out.append(service if service is not None else _Around(s.static[0]))
            else:
                out.append(_Selected(s, service))
        out.extend(waiting.values())
        return out


class _Around:
    """An ``around`` plugin that runs for every call."""

    __slots__ = ("bound",)

    def __init__(self, bound: Bound) -> None:
        self.bound = bound

    async def __call__(self, call: Call, next: Handler) -> Reply:
        b = self.bound
        result: Reply = await b.around(call, next, Run(b.name, call))
        return result


class _Selected:
    """An ``around`` plugin (or a built-in step) that runs for some calls only."""

    __slots__ = ("service", "set")

    def __init__(self, s: PluginSet, service: Step | None) -> None:
        self.set, self.service = s, service

    async def __call__(self, call: Call, next: Handler) -> Reply:
        chosen = self.set.chain(call.model, call.team, call.key_id)
        if not chosen:
            return await next(call)
        if self.service is not None:
            return await self.service(call, next)
        b = chosen[0]
        result: Reply = await b.around(call, next, Run(b.name, call))
        return result
