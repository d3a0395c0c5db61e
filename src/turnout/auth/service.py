"""Authentication, limits and budgets of one running gateway, and when each is switched on.

Authentication is on when a master key is configured or a gateway key was ever created, and
also while the key store could not be read at start (then only the master key works: a
gateway with keys must never open up because its database was down). Otherwise the gateway is
open, said loudly in the log, and neither step is in the pipeline. The limits step joins only
once some key or team has a limit or a budget. Both decisions are re-made whenever the key
tables change, and the gateway swaps its pipeline (``on_change``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from turnout.auth.build import MASTER_ENV, build_limiter, estimator_for, master_key, stores_for
from turnout.auth.catchup import CatchUp
from turnout.auth.credentials import CredentialStore, MemoryCredentialStore
from turnout.auth.directory import Directory
from turnout.auth.principal import Principal
from turnout.auth.records import AdminRole, role_of
from turnout.auth.step import AuthStep
from turnout.auth.store import KeyStore, MemoryKeyStore
from turnout.auth.tokens import digest, same
from turnout.budgets.seed import BudgetSeeds
from turnout.config.compile import Runtime
from turnout.errors import UnknownKey
from turnout.limits.kind import is_redis
from turnout.limits.settle import SettleSink
from turnout.limits.step import LimitStep
from turnout.observability.logging import get_logger
from turnout.pipeline import Step

if TYPE_CHECKING:
    from turnout.observability.hub import Observability
    from turnout.observability.logging import RequestLog
    from turnout.storage import Storage

log = get_logger("turnout.auth")
STARTUP_TIMEOUT = 10.0
SWEEP_EVERY = 5.0
SEED_CHECK_EVERY = 10.0


class AdminDenied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StoredKeysUnavailable(Exception):
    """The credential store did not answer: a reload must not drop the keys it holds."""


class AuthService:
    def __init__(self, runtime: Runtime, environ: Mapping[str, str] = os.environ) -> None:
        self.runtime = runtime
        self.config = runtime.config.auth
        secret = master_key(runtime, environ)
        self.master = digest(secret) if secret else None
        self.directory = Directory()
        self.store: KeyStore = MemoryKeyStore()
        self.credentials: CredentialStore = MemoryCredentialStore()
        self.limiter = build_limiter(runtime.config.limits)
        self.step = AuthStep(self.directory, self.master)
        self.step.account_objects = self.config.account_objects == "allow"
        self.limit_step = LimitStep(self.limiter, estimator_for(runtime))
        self.sink = SettleSink(self.limiter)
        self.on_change: Callable[[], None] | None = None
        self._store_down = False
        self._shape: tuple[bool, bool] = (self.active, self.limited)
        self.budgets = BudgetSeeds(self.limiter, self.directory)
        self._request_log: RequestLog | None = None
        self._obs: Observability | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._reading = asyncio.Lock()  # one read of the change feed at a time (refresh)
        self.catch_up = CatchUp(self.refresh)

    def use(self, runtime: Runtime) -> None:
        """A reload swapped the runtime: estimate budgets by its models and prices. Keys,
        limit windows and budget spend are not the config's and stay as they are."""
        self.runtime = runtime
        self.limit_step.estimator = estimator_for(runtime)
        self.step.account_objects = runtime.config.auth.account_objects == "allow"

    async def with_stored_keys(self, runtime: Runtime) -> Runtime:
        """``runtime`` with the provider keys stored through ``/admin/credentials`` joined
        to their pools, read from the credential store now (a reload applies new ones)."""
        from turnout.auth.credentials import decrypt_all, with_keys
        from turnout.crypto import SecretBox, SecretKeyError

        if not runtime.config.storage.enabled:
            return runtime
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                records = await self.credentials.list()
        except Exception as exc:  # never serve without keys that were there: refuse instead
            raise StoredKeysUnavailable(
                f"stored provider keys could not be read: {type(exc).__name__}"
            ) from None
        if not records:
            return runtime
        try:
            box = SecretBox.from_env()
        except SecretKeyError as exc:
            raise StoredKeysUnavailable(str(exc)) from None
        if box is None:
            return runtime
        return with_keys(runtime, decrypt_all(records, box))

    # -- state --------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        # Fail closed only after a failed first load; before the lifespan nothing is served.
        d = self.directory
        return self.master is not None or d.any_keys or (self._store_down and not d.loaded)

    @property
    def limited(self) -> bool:
        return self.active and self.directory.limited

    def steps(self) -> list[Step]:
        if not self.active:
            return []
        return [self.step, self.limit_step] if self.limited else [self.step]

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(
        self,
        storage: Storage | None,
        request_log: RequestLog | None = None,
        observability: Observability | None = None,
        *,
        stores: tuple[KeyStore, CredentialStore] | None = None,
    ) -> None:
        self.store, self.credentials = stores or stores_for(storage)
        self._request_log, self._obs = request_log, observability
        metrics = observability.metrics if observability is not None else None
        if metrics is not None and is_redis(self.limiter):
            metrics.limits = self.limiter  # its Redis's failures, on /metrics
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                await self.refresh()
        except Exception as exc:
            self._store_down = True
            log.error(
                "gateway keys could not be loaded: only the master key is accepted until the "
                "key store answers",
                error=repr(exc)[:300],
            )
        self.directory.on_change.append(self._changed)
        self._changed()
        if not self.active:
            log.warning(
                "AUTHENTICATION IS OFF: no master key and no gateway keys; anyone who can reach "
                "this port can use every configured provider (docs/keys-and-limits.md)"
            )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._poll_forever()),
            loop.create_task(self._upkeep()),
            loop.create_task(self._renew_forever()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.sink.drain()
        await self.limiter.close()

    async def refresh(self) -> bool:
        """Follow the store's change feed once; True if something changed. One read at a
        time: two overlapping reads could apply the older one last (a revoke undone here
        while the version says it was seen)."""
        async with self._reading:
            return await self._refresh()

    async def recheck(self, headers: dict[bytes, bytes], query: bytes) -> Principal:
        """The caller's key, after it was found nowhere (:class:`UnknownKey`): made by
        another process since the last poll, it is served now instead of a 401
        (:mod:`turnout.auth.catchup`)."""
        if self.store.shared:
            await self.catch_up()
        return self.step.identify(headers, query)

    async def identify(self, headers: dict[bytes, bytes], query: bytes) -> Principal:
        """:meth:`AuthStep.identify` for the routes outside the model-call path, with the
        :meth:`recheck` of a key found nowhere."""
        try:
            return self.step.identify(headers, query)
        except UnknownKey:
            return await self.recheck(headers, query)

    async def _refresh(self) -> bool:
        loaded = self.directory.loaded
        changed = self.directory.apply(await self.store.changes(self.directory.version))
        if not loaded and not changed and self._tasks:
            self._changed()  # first load after a failed start: the store may be empty
        return changed

    async def _poll_forever(self) -> None:
        interval = self.config.refresh_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception as exc:
                if not self._store_down:
                    self._store_down = True
                    log.error(
                        "key store unreachable: serving the keys loaded last",
                        error=repr(exc)[:300],
                    )
                continue
            if self._store_down:
                self._store_down = False
                log.info("key store reachable again")

    def _changed(self) -> None:
        self._wake.set()
        shape = (self.active, self.limited)
        if shape[1] and self._request_log is not None and self.directory.settles:
            self._attach_settlement()
        if shape != self._shape:
            self._shape = shape
            log.info("authentication and limits", authentication=shape[0], limits=shape[1])
            if self.on_change is not None:
                self.on_change()

    def _attach_settlement(self) -> None:
        """Calls are settled from the request log's drain: make sure it runs and parses usage.
        Only TPM limits and budgets need that (with every other consumer of the drain off,
        it costs ~40 µs a call); requests per minute and in flight are final at admission."""
        request_log = self._request_log
        assert request_log is not None
        if self.sink not in request_log.sinks and request_log.finisher is not None:
            request_log.attach(request_log.finisher, [*request_log.sinks, self.sink])
            request_log.start()
        obs = self._obs
        if obs is not None and not obs.usage_wanted:
            obs.usage_wanted = True
            obs.ask_stream_usage = self.runtime.config.storage.ask_stream_usage

    async def _renew_forever(self) -> None:
        """Every third of ``limits.lease``: renew the leases of the calls still running, so a
        call longer than the lease keeps its slot and its budget reservation (one batched
        renewal per limiter, whatever the number of calls). Its own task: a slow seeding of
        budgets must not make a renewal late."""
        failing = False
        while True:
            await asyncio.sleep(self.limiter.renew_every)
            try:
                await self.limiter.renew()
                failing = False
            except Exception as exc:  # the next one may succeed; leases last three rounds
                if not failing:
                    log.warning("limits lease renewal failed", error=repr(exc)[:300])
                failing = True

    # -- budgets ------------------------------------------------------------------------------
    async def _upkeep(self) -> None:
        """Every few seconds: forget expired limiter state; seed the spend of budgets not
        seen yet (new keys, a new period) or lost (a flushed Redis; budgets/seed.py). Woken
        by key changes."""
        last_check = 0.0
        failing = False
        while True:
            delay = SWEEP_EVERY
            try:
                self.limiter.sweep()
                now = time.monotonic()
                budgets = self.budgets
                due = budgets.unseeded() or (
                    budgets.seeded and now - last_check >= SEED_CHECK_EVERY
                )
                # During a Redis outage the limiter has logged it already; seed once it is back.
                if due and getattr(self.limiter, "available", True):
                    last_check = now
                    await budgets.seed(self.store)
                failing = False
            except Exception as exc:  # retried at the next round, logged once per streak
                if not failing:
                    log.warning("budget upkeep failed", error=repr(exc)[:300])
                failing = True
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    # -- the admin API's own check ------------------------------------------------------------
    def admin_role(self, secret: str | bytes | None) -> AdminRole | None:
        """The admin role a presented secret carries: ``admin`` for the master key and keys
        with the admin scope, ``viewer`` for keys with the viewer scope; None for anything
        else (no key, an unknown or expired key, a key for model calls only)."""
        if not secret:
            return None
        d = digest(secret)
        if self.master is not None and same(d, self.master):
            return "admin"
        principal = self.directory.by_digest.get(d)
        if principal is None or (
            principal.expires is not None and principal.expires <= time.time()
        ):
            return None
        return self.subject_role(principal.id)

    def subject_role(self, subject: str) -> AdminRole | None:
        """The role a dashboard session's subject (``master`` or a key id) has now: a key
        revoked, expired or without its scope any more has none (within
        ``auth.refresh_interval`` on other replicas)."""
        if subject == "master":
            return "admin" if self.master is not None else None
        record = self.directory.keys.get(subject)
        if record is None or record.revoked or record.expired():
            return None
        if record.team:
            team = self.directory.teams.get(record.team)
            if team is None or not team.active:
                return None  # a key of a deleted team does not authenticate
        return role_of(record.scopes)

    def check_admin(self, secret: str | bytes | None, *, manage: bool = False) -> AdminRole:
        """The caller's role on the admin API, or AdminDenied: the master key or a gateway
        key with the ``admin`` scope is ``admin``, one with the ``viewer`` scope ``viewer``
        (the guard refuses a viewer's writes); 401 for no or an unknown key, 403 for a valid
        key without either scope. Without a master key and without any gateway key the admin
        API is open, like the whole gateway, but never for writes (``manage``)."""
        if secret:
            role = self.admin_role(secret)
            if role is not None:
                return role
            principal = self.directory.by_digest.get(digest(secret))
            if principal is not None and not (
                principal.expires is not None and principal.expires <= time.time()
            ):
                raise AdminDenied(
                    403,
                    "This key may not use the admin API: it needs the master key or a key "
                    "with the admin scope (or the viewer scope, to read).",
                )
        if self.master is None:
            if self.active:
                raise AdminDenied(
                    401,
                    f"The admin API needs a master key ({MASTER_ENV}) or a key with the "
                    "admin scope.",
                )
            if manage:
                raise AdminDenied(
                    403,
                    "Changing the gateway through the admin API needs a master key (set "
                    f"auth.master_key or {MASTER_ENV}) or a key with the admin scope "
                    "(`turnout keys create --admin -c ...` on the database).",
                )
            return "admin"
        raise AdminDenied(401, "Invalid or missing master key or admin key.")
