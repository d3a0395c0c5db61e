"""Writes to the providers and models managed through the admin API, and their replication.

A write is checked as the whole config it would produce (:mod:`turnout.live.managed`), stored
with the next version, and applied at once on this process by a reload that re-reads only the
database; other processes sharing the database (replicas, ``--workers``) poll the version
(every :data:`POLL_INTERVAL` seconds) and reload when it moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from turnout.auth.credentials import mask
from turnout.config.schema import TurnoutConfig
from turnout.config.validate import validate
from turnout.crypto import SecretBox, SecretKeyError
from turnout.live.managed import (
    SealedKeyError,
    Sources,
    is_fields,
    kind_of,
    merge,
    open_keys,
    outbound_problems,
    provider_fields,
    section,
    shown_provider,
)
from turnout.live.reloader import Reloader, ReloadFailed, ReloadResult
from turnout.live.store import Entry, Kind, ManagedStore, seal_context
from turnout.observability.logging import get_logger
from turnout.outbound import OutboundPolicy

log = get_logger("turnout.config")
POLL_INTERVAL = 1.0
STORE_TIMEOUT = 10.0
_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def refused(problems: list[str]) -> Outcome:
    """422: every problem, nothing stored (``problems`` and, for the dashboard and FastAPI
    clients, ``detail.problems``)."""
    message = f"{len(problems)} problem(s); nothing was stored or applied"
    return Outcome(
        422, {"problems": problems, "detail": {"message": message, "problems": problems}}
    )


@dataclass(slots=True)
class Outcome:
    """An admin write's answer: its status and body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


class ManagedService:
    def __init__(
        self,
        store: ManagedStore,
        reloader: Reloader,
        policy: OutboundPolicy,
        shared: bool,
        box: Callable[[], SecretBox | None] = SecretBox.from_env,
    ) -> None:
        self.store = store
        self.reloader = reloader
        self.policy = policy
        self.shared = shared  # other processes see the same store: poll it
        self.box = box
        self.version = -1  # the store version the serving config was built from
        self.sources = Sources()
        self._lock = asyncio.Lock()  # writes of this process, one at a time

    async def overlay(self, base: TurnoutConfig) -> tuple[TurnoutConfig, list[str]]:
        """``base`` with the stored entries (for a reload): the config and the names of the
        providers that came from the database (``sources`` says where each name came from). Raises
        ``ReloadFailed`` with every problem; records the store version it was built from."""
        try:
            version, entries = await self.load()
        except Exception as exc:  # never serve without entries that are there: refuse
            raise ReloadFailed(
                [f"the providers and models of the database could not be read: {exc!r}"[:300]]
            ) from None
        try:
            data, sources = merge(base, entries, self._box())
        except SealedKeyError as exc:
            raise ReloadFailed([str(exc)]) from None
        if not entries:
            self.version, self.sources = version, sources
            return base, []
        config, problems = validate(data)
        if problems or config is None:
            raise ReloadFailed(problems or ["the merged config is invalid"])
        self.version, self.sources = version, sources
        return config, sources.database["providers"]

    # -- reads -------------------------------------------------------------------------------
    async def load(self) -> tuple[int, list[Entry]]:
        async with asyncio.timeout(STORE_TIMEOUT):
            return await self.store.load()

    async def listing(self, kind: Kind) -> list[dict[str, Any]]:
        _, entries = await self.load()
        defined = getattr(self.reloader.base, section(kind))
        out = []
        for e in entries:
            if e.kind != kind:
                continue
            body = shown_provider(self._opened(e)) if kind == "provider" else e.body
            item: dict[str, Any] = {"name": e.name, **body}
            if kind == "provider":
                item["api_keys"] = self._masks(e)
            item["serving"] = e.name not in defined
            item["source"] = "database" if item["serving"] else "shadowed by the file"
            item["updated_at"] = e.updated_at.isoformat()
            out.append(item)
        return out

    def _masks(self, entry: Entry) -> list[str]:
        try:
            return [mask(k) for k in open_keys(entry, self._box()) if not is_fields(k)]
        except Exception:
            return ["(sealed)"] * len(entry.sealed_keys)

    def _opened(self, entry: Entry) -> dict[str, Any]:
        """A stored provider's body with its sealed headers and client secret back (for the
        listing, which masks them); as stored when they cannot be opened."""
        body = copy.deepcopy(entry.body)
        try:
            opened = open_keys(entry, self._box())
        except Exception:
            return body
        kind = kind_of(entry.kind)
        if kind is not None and kind.join is not None:
            kind.join(body, [v for v in opened if is_fields(v)])
        return body

    def _usable(self, entry: Entry) -> dict[str, Any]:
        """An entry's body with every sealed secret back (its keys too), as a reload joins
        it; as stored when they cannot be opened."""
        body = copy.deepcopy(entry.body)
        kind = kind_of(entry.kind)
        try:
            opened = open_keys(entry, self._box())
        except Exception:
            return body
        if kind is not None and kind.join is not None:
            kind.join(body, opened)
        return body

    def _kept_keys(self, old: Entry) -> list[str]:
        """The stored keys an update without ``api_keys`` keeps: the sealed list without the
        old credentials (the new body brings its own). All of it when it cannot be opened."""
        box = self._box()
        if box is None:
            return list(old.sealed_keys)
        context = seal_context(old.name)
        kept = []
        for value in old.sealed_keys:
            try:
                if is_fields(box.open(value, context)):
                    continue
            except Exception:
                pass
            kept.append(value)
        return kept

    def _box(self) -> SecretBox | None:
        try:
            return self.box()
        except SecretKeyError:
            return None

    # -- writes ------------------------------------------------------------------------------
    async def put(self, kind: Kind, name: str, body: Any, *, create: bool = False) -> Outcome:
        """Create or replace one entry of a registered kind (``create``: only create)."""
        if kind_of(kind) is None:
            return Outcome(404, {"detail": f"no such kind of entry: {kind!r}"})
        if not isinstance(body, dict):
            return refused([f"{section(kind)}.{name}: expected an object"])
        problem = self._name_problem(kind, name)
        if problem is not None:
            return problem
        async with self._lock:
            _, entries = await self.load()
            old = next((e for e in entries if e.kind == kind and e.name == name), None)
            if create and old is not None:
                return Outcome(409, {"detail": f"{section(kind)}.{name} exists: PUT replaces it"})
            body = dict(body)
            sealed: list[str] = []
            if kind == "provider":
                keys = body.pop("api_keys", None)
                made = self._seal(name, keys, old)
                if isinstance(made, Outcome):
                    return made
                sealed = made
                fields = provider_fields(body)  # headers, client secret, URLs: sealed as well
                if fields:
                    box = self._sealer("provider credentials (they are sealed)")
                    if isinstance(box, Outcome):
                        return box
                    sealed += [box.seal(f, seal_context(name)) for f in fields]
            else:
                made = self._seal_secrets(kind, name, body)
                if isinstance(made, Outcome):
                    return made
                sealed = made
            entry = Entry(kind, name, body, sealed)
            rest = [e for e in entries if not (e.kind == kind and e.name == name)]
            problems = await self._problems([*rest, entry], entry)
            if problems:
                return refused(problems)
            version = await self.store.put(entry)
            result = await self._apply(version)
            if result.result == "failed":  # the config changed since it was checked
                return await self._undo(kind, name, old, result)
        return Outcome(200 if old is not None else 201, self._body(kind, name, result))

    async def delete(self, kind: Kind, name: str) -> Outcome:
        async with self._lock:
            _, entries = await self.load()
            if not any(e.kind == kind and e.name == name for e in entries):
                return Outcome(404, {"detail": f"no {kind} {name!r} stored through the admin API"})
            rest = [e for e in entries if not (e.kind == kind and e.name == name)]
            problems = await self._problems(rest, None)
            if problems:
                return refused(problems)
            gone = next(e for e in entries if e.kind == kind and e.name == name)
            version = await self.store.delete(kind, name)
            if version is None:
                return Outcome(404, {"detail": f"no {kind} {name!r}"})
            result = await self._apply(version)
            if result.result == "failed":
                return await self._undo(kind, name, gone, result)
        return Outcome(200, {**self._body(kind, name, result), "deleted": name})

    async def _undo(
        self, kind: Kind, name: str, old: Entry | None, failed: ReloadResult
    ) -> Outcome:
        """A write that was checked against the config as it stood, but that the config as it
        is now cannot take (the file changed in between, a reload raced it): put the entry back
        as it was, so nothing unapplied stays stored to fail every later reload. 409 with the
        problems; the serving config is unchanged."""
        version = await (self.store.put(old) if old is not None else self.store.delete(kind, name))
        if version is not None:
            await self._apply(version)
        message = "the config changed while this was written; nothing was stored or applied"
        return Outcome(
            409,
            {
                **self._body(kind, name, failed),
                "detail": {"message": message, "problems": failed.problems},
            },
        )

    async def entry(self, kind: Kind, name: str) -> Entry | None:
        _, entries = await self.load()
        return next((e for e in entries if e.kind == kind and e.name == name), None)

    async def changed_elsewhere(self) -> ReloadResult:
        """Something the config reads from the database changed (stored provider keys):
        take a version so every replica reloads, and reload here."""
        async with self._lock:
            version = await self.store.bump()
            return await self._apply(version)

    def _name_problem(self, kind: Kind, name: str) -> Outcome | None:
        base: TurnoutConfig = self.reloader.base
        if name in getattr(base, section(kind)):
            return Outcome(
                409,
                {
                    "detail": f"{section(kind)}.{name} is defined in the config file, which "
                    "wins for the names it defines: change it there"
                },
            )
        if kind == "provider" and not _PROVIDER_NAME.match(name):
            return refused([f"providers.{name}: a name is letters, digits, '.', '_', '-'"])
        if kind == "model":
            from turnout.errors import GatewayError
            from turnout.names import check_model_name

            try:
                check_model_name(name)
            except GatewayError as exc:
                return refused([f"models.{name}: {exc}"])
        return None

    def _seal(self, name: str, keys: Any, old: Entry | None) -> list[str] | Outcome:
        if keys is None:  # not given: an update keeps the stored keys
            return self._kept_keys(old) if old is not None else []
        if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            return refused([f"providers.{name}.api_keys: expected a list of keys"])
        if not keys:
            return []
        box = self._sealer("provider keys (they are sealed)")
        if isinstance(box, Outcome):
            return box
        return [box.seal(k, seal_context(name)) for k in keys]

    def _seal_secrets(self, kind: Kind, name: str, body: dict[str, Any]) -> list[str] | Outcome:
        """The secrets a kind keeps apart from its body (``ManagedKind.split``), sealed."""
        found = kind_of(kind)
        secrets = found.split(body) if found is not None and found.split is not None else []
        if not secrets:
            return []
        box = self._sealer(f"the credentials of {section(kind)}")
        if isinstance(box, Outcome):
            return box
        return [box.seal(s, seal_context(name, kind)) for s in secrets]

    def _sealer(self, what: str) -> SecretBox | Outcome:
        """The sealing box, or the refusal to give when there is none (no secret key)."""
        try:
            box = self.box()
        except SecretKeyError as exc:
            return Outcome(400, {"detail": str(exc)})
        if box is None:
            return Outcome(400, {"detail": f"set TURNOUT_SECRET_KEY to store {what}"})
        return box

    async def _problems(self, entries: list[Entry], written: Entry | None) -> list[str]:
        """Every problem of the config these entries would make (nothing is stored if any),
        and of the written entry, what the admin API may never store and where it may not
        connect."""
        try:
            data, _ = merge(self.reloader.base, entries, self._box())
        except Exception as exc:
            return [str(exc)]
        _, problems = validate(data)
        kind = kind_of(written.kind) if written is not None else None
        if written is not None and kind is not None:
            # As it will be used: a provider's keys and a URL holding a credential are sealed,
            # its body keeps only the shown form.
            body = self._usable(written) if written.kind == "provider" else written.body
            problems.extend(kind.refuse(written.name, body))
            problems.extend(await outbound_problems(self.policy, written.kind, written.name, body))
        return problems

    async def _apply(self, version: int) -> ReloadResult:
        return await self.reloader.reload("admin API", reread=False)

    def _body(self, kind: Kind, name: str, result: ReloadResult) -> dict[str, Any]:
        return {"kind": kind, "name": name, **result.body()}

    # -- replicas ----------------------------------------------------------------------------
    async def poll_forever(self, interval: float = POLL_INTERVAL) -> None:
        """Reload when another process changed the store (a replica, another worker)."""
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):  # a database outage: try again next time
                async with asyncio.timeout(STORE_TIMEOUT):
                    version = await self.store.version()
                if version != self.version:  # the reload's build records what it read
                    await self.reloader.reload("database changed", reread=False)
