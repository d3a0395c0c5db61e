"""Reloads of a running gateway: one at a time, all or nothing, each reported.

Every trigger (the watched file, SIGHUP, ``POST /admin/config/reload``, a change stored
through the admin API) calls :meth:`Reloader.reload`. It builds the config again from its
source, joins what the database holds (stored provider keys; providers and models managed
through the admin API), compiles it, builds a complete generation beside the serving one
(:mod:`turnout.live.swap`) and only then swaps. Any problem on the way (an invalid or
half-written file, a deleted file, a provider or strategy that cannot be built) changes
nothing: the problems are logged once, kept as the last error (``GET /admin/config``),
counted (``turnout_config_reloads_total{result="failed"}``) and returned to the caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from turnout.config.compile import Runtime
from turnout.config.load import ConfigError
from turnout.config.schema import TurnoutConfig
from turnout.live.source import ConfigSource, version_of
from turnout.observability.logging import get_logger

log = get_logger("turnout.config")
MAX_PROBLEMS = 100  # a failed reload's problems kept, logged and answered; check: all

Apply = Callable[[Runtime], list[str]]  # swaps a runtime in; returns sections needing a restart
Prepare = Callable[[TurnoutConfig], Awaitable[Runtime]]  # config -> runtime with stored parts


@dataclass(slots=True)
class ReloadResult:
    result: str  # "reloaded", "unchanged" or "failed"
    version: str
    problems: list[str] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result, "version": self.version}
        if self.problems:
            out["problems"] = self.problems
        if self.restart_needed:
            out["restart_needed"] = self.restart_needed
        return out


class ReloadFailed(Exception):
    """Raised by a build step with problems worded for the user (like ``turnout check``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Reloader:
    def __init__(
        self,
        source: ConfigSource | None,
        base: TurnoutConfig,
        version: str,
        prepare: Prepare,
        apply: Callable[[Runtime], Awaitable[list[str]]],
    ) -> None:
        self.source = source
        self.base = base  # the last config read from the source (file and command line)
        self.version = version
        self.generation = 1
        self.loaded_at = time.time()
        self.last_error: dict[str, Any] | None = None
        self.counts = {"reloaded": 0, "unchanged": 0, "failed": 0}
        self.on_change: list[Callable[[], None]] = []  # e.g. the worker status file
        self._prepare = prepare
        self._apply = apply
        self._lock = asyncio.Lock()

    async def reload(self, trigger: str, *, reread: bool = True) -> ReloadResult:
        """Reload from the source (``reread``) or only the database's part (a change made
        through the admin API). Reloads never overlap: a second waits for the first."""
        async with self._lock:
            try:
                base = self.base
                if reread and self.source is not None:
                    base = await asyncio.to_thread(self.source.load, reloading=True)
                runtime = await self._prepare(base)
                version = version_of(runtime.config)
                if version == self.version:
                    self.base = base
                    self.last_error = None  # what is on disk is what serves
                    self.counts["unchanged"] += 1
                    self._changed()
                    return ReloadResult("unchanged", version)
                restart = await self._apply(runtime)
            except ConfigError as exc:
                return self._failed(trigger, [f"{exc.source}: {p}" for p in exc.problems])
            except ReloadFailed as exc:
                return self._failed(trigger, exc.problems)
            except Exception as exc:  # a provider or strategy refused to build
                return self._failed(trigger, [f"{type(exc).__name__}: {exc}"[:1000]])
            self.base = base
            self.version = version
            self.generation += 1
            self.loaded_at = time.time()
            self.last_error = None
            self.counts["reloaded"] += 1
            log.info(
                "config reloaded",
                version=version,
                trigger=trigger,
                models=runtime.public_models(),
                restart_needed=restart or None,
            )
            if restart:
                log.warning(
                    "config sections changed that apply only at the next start",
                    sections=restart,
                )
            self._changed()
            return ReloadResult("reloaded", version, restart_needed=restart)

    def _failed(self, trigger: str, problems: list[str]) -> ReloadResult:
        self.counts["failed"] += 1
        if len(problems) > MAX_PROBLEMS:  # kept, logged and answered: bounded
            more = len(problems) - MAX_PROBLEMS
            problems = [
                *problems[:MAX_PROBLEMS],
                f"... and {more} more problem(s): `turnout check` lists every one",
            ]
        previous = self.last_error
        if previous is None or previous["problems"] != problems:  # logged once, not per event
            log.error(
                "config reload failed; the previous config keeps serving",
                trigger=trigger,
                version=self.version,
                problems=problems,
            )
        self.last_error = {"at": time.time(), "trigger": trigger, "problems": problems}
        self._changed()
        return ReloadResult("failed", self.version, problems)

    def _changed(self) -> None:
        for hook in self.on_change:
            hook()

    def status(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "generation": self.generation,
            "loaded_at": self.loaded_at,
            "last_error": self.last_error,
            "reloads": dict(self.counts),
        }
