"""OAuth accounts in a running gateway: their tokens in the key pools, refreshed in time.

Each account of a provider with ``auth: oauth`` becomes one key (``pools.AccountKey``) in every
key pool of its provider, so it takes part in routing exactly like an API key: weights and
order, cooldowns after a 429 or a 401, the health keeper's probes, the health view. Its
``secret`` is the current access token, replaced in place when the token is refreshed, so the
very next attempt uses the new one; nothing on the request path knows about OAuth.

One background task (:meth:`OAuthAccounts.run`) does the rest, every ``tick`` seconds:

- it re-reads the accounts table and applies what changed: new accounts join the pools,
  deleted ones leave them, tokens refreshed by another replica replace the old ones here;
- it refreshes every access token that expires within the profile's ``refresh_before``,
  holding the account's lease (:mod:`turnout.oauth.accounts`) so that one process at a time
  does it; a process that finds the lease taken waits for the holder's new tokens;
- a refresh answered with ``invalid_grant`` marks the account invalid, in the table (every
  replica sees it) and in the pools (routing skips it at once, the health view says why);
  any other failure is retried on the next tick while the old token lasts;
- an account whose token an upstream just refused (401, the key's ``invalid_key`` state) is
  refreshed at once, at most once a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping

from turnout.config.compile import Runtime
from turnout.config.providers import OAuthProfile
from turnout.crypto import SecretBox, SecretKeyError
from turnout.health.board import HealthBoard
from turnout.health.breaker import INVALID as KEY_INVALID
from turnout.oauth.accounts import (
    INVALID,
    AccountRecord,
    AccountStore,
    MemoryAccountStore,
    open_tokens,
    seal_tokens,
)
from turnout.oauth.client import OAuthClient, OAuthError, Tokens
from turnout.oauth.pools import AccountPools
from turnout.observability.logging import get_logger
from turnout.outbound.policy import Origin, OutboundPolicy
from turnout.storage import Storage

log = get_logger("turnout.oauth")
TICK = 1.0
LEASE = 30.0
FORCED_EVERY = 60.0  # an upstream's 401 triggers at most one early refresh a minute


def owner_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class OAuthAccounts:
    def __init__(
        self,
        runtime: Runtime,
        board: HealthBoard,
        store: AccountStore,
        box: SecretBox | None,
        policy: OutboundPolicy,
        *,
        tick: float = TICK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pools = AccountPools(board)
        self.store = store
        self.box = box
        self.tick = tick
        self.clock = clock
        self.owner = owner_id()
        self.profiles: dict[str, OAuthProfile] = {
            name: p.oauth
            for name, p in runtime.config.providers.items()
            if p.auth == "oauth" and p.oauth is not None
        }
        self._policy = policy
        self.clients = self._clients(runtime)
        self.records: dict[str, AccountRecord] = {}
        self.tokens: dict[str, tuple[str | None, float | None]] = {}  # refresh token, expiry
        self._access: dict[str, str] = {}  # the current access token of each account
        self._forced: dict[str, float] = {}
        self._retry: dict[str, tuple[int, float]] = {}  # failures in a row, next try (monotonic)
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0
        for name in self.profiles:
            self.pools.placeholders(name)

    def _clients(self, runtime: Runtime) -> dict[str, OAuthClient]:
        """One client per profile, its endpoints checked as the provider's own destinations:
        a provider stored through the admin API is checked as admin-supplied."""
        return {
            n: OAuthClient(p, self._policy, origin=origin_of(runtime, n), clock=self.clock)
            for n, p in self.profiles.items()
        }

    def use(self, runtime: Runtime, board: HealthBoard) -> None:
        """A reload swapped in a new config and board: the profiles are the new config's,
        and every account joins the new pools before they serve, keeping the key objects
        (their cooldowns and breakers) of pools that stay. Synchronous: it runs inside the
        swap, where nothing awaits."""
        old = self.pools.rebind(board)
        self.profiles = dict(oauth_providers(runtime))
        self.clients = self._clients(runtime)
        for name in self.profiles:
            self.pools.placeholders(name)
        for account, record in list(self.records.items()):
            if record.provider not in self.profiles:
                self._leave(account)
                continue
            previous = {(k.provider, k.scope): k for k in old.get(account, [])}
            self.pools.join(record, self._access.get(account, ""), previous)
        self.pools.reassert(self.profiles)

    def _leave(self, account: str) -> None:
        self.pools.leave(account)
        self.records.pop(account, None)
        self.tokens.pop(account, None)
        self._access.pop(account, None)

    def _open(self, record: AccountRecord) -> tuple[str, str | None] | None:
        if self.box is None:
            self._problem(record, "TURNOUT_SECRET_KEY is not set: its tokens cannot be opened")
            return None
        try:
            return open_tokens(self.box, record)
        except SecretKeyError as exc:
            self._problem(record, f"its tokens cannot be opened: {exc}")
            return None

    def _problem(self, record: AccountRecord, reason: str) -> None:
        log.error(
            "oauth account not usable", account=record.id, provider=record.provider, reason=reason
        )
        if record.id not in self.pools.keys:
            self.pools.join(record, "")
        self.pools.set_invalid(record.id, f"oauth: {reason}")
        self.records[record.id] = record

    # -- sync with the table -----------------------------------------------------------------
    async def sync(self) -> None:
        """Apply every account change made since the last sync (by anyone); one sync at a
        time (the loop's and the admin API's), so an account never joins a pool twice."""
        async with self._lock:
            await self._sync()

    async def _sync(self) -> None:
        records = await self.store.list()
        seen = set()
        for record in records:
            if record.provider not in self.profiles:
                continue
            seen.add(record.id)
            known = self.records.get(record.id)
            if record.deleted_at is not None:
                if known is not None:
                    self._leave(record.id)
                    log.info("oauth account removed", account=record.id)
                continue
            if known is not None and known.version == record.version:
                self.records[record.id] = record  # the lease may have moved
                continue
            self._apply(record, known is None)
        for gone in [a for a in self.records if a not in seen]:
            self._leave(gone)
        self.pools.reassert(self.profiles)

    def _apply(self, record: AccountRecord, new: bool) -> None:
        opened = self._open(record)
        if opened is None:
            return
        access, refresh = opened
        expiry = record.expires_at.timestamp() if record.expires_at else None
        if new:
            self.pools.join(record, access)
            log.info("oauth account joined", account=record.id, provider=record.provider)
        else:
            self.pools.set_secret(record.id, access)
        self.records[record.id] = record
        self.tokens[record.id] = (refresh, expiry)
        self._access[record.id] = access
        if record.status == INVALID:
            self.pools.set_invalid(record.id, f"oauth: {record.reason or 'invalid'}")
        else:
            self.pools.set_usable(record.id)

    # -- refresh -----------------------------------------------------------------------------
    def _due(self, account: str) -> bool:
        record = self.records.get(account)
        refresh, expiry = self.tokens.get(account, (None, None))
        if record is None or record.status == INVALID or refresh is None:
            return False
        margin = self.profiles[record.provider].refresh_before
        if expiry is not None and expiry - margin <= self.clock():
            return True
        return self._refused(account)

    def _refused(self, account: str) -> bool:
        """An upstream refused the token (401): refresh early, at most once a minute."""
        keys = self.pools.keys.get(account, [])
        if not any(k.state == KEY_INVALID and k.reason == "invalid_key" for k in keys):
            return False
        now = time.monotonic()
        if now - self._forced.get(account, -FORCED_EVERY) < FORCED_EVERY:
            return False
        self._forced[account] = now
        return True

    async def refresh_due(self) -> None:
        now = time.monotonic()
        for account in list(self.records):
            if self._retry.get(account, (0, 0.0))[1] > now or not self._due(account):
                continue
            await self.refresh(account)

    def _failed(self, account: str) -> None:
        """A refresh that failed for a passing reason: try again after 1, 2, 4… up to 30 s."""
        n = self._retry.get(account, (0, 0.0))[0] + 1
        self._retry[account] = (n, time.monotonic() + min(2.0 ** (n - 1), 30.0))

    async def refresh(self, account: str) -> bool:
        """Refresh one account under its lease; True if this process did it."""
        known = self.records.get(account)
        if known is None:
            return False
        leased = await self.store.lease(account, self.owner, LEASE)
        if leased is None:
            return False  # another process is at it: its tokens arrive with a later sync
        try:
            if leased.version != known.version or leased.status == INVALID:
                self._apply(leased, False)  # someone refreshed (or gave up) meanwhile
                return False
            opened = self._open(leased)
            if opened is None or opened[1] is None:
                return False
            client = self.clients[leased.provider]
            try:
                tokens = await client.refresh(opened[1])
            except OAuthError as exc:
                if exc.error == "invalid_grant":
                    reason = f"invalid_grant: {exc.description}".rstrip(": ")
                    await self.store.invalidate(account, self.owner, reason)
                    self.pools.set_invalid(account, f"oauth: {reason}")
                    self.records[account] = leased
                    log.error("oauth account invalid", account=account, reason=reason)
                    return False
                log.warning("oauth refresh failed", account=account, error=exc.error)
                self._failed(account)
                return False
            self._retry.pop(account, None)
            await self._save(leased, tokens)
            self.refreshes += 1
            log.info("oauth token refreshed", account=account)
            return True
        finally:
            with contextlib.suppress(Exception):
                await self.store.release(account, self.owner)

    async def _save(self, record: AccountRecord, tokens: Tokens) -> None:
        assert self.box is not None
        sealed_access, sealed_refresh, expires = seal_tokens(
            self.box, record.id, record.provider, tokens
        )
        if await self.store.save_tokens(
            record.id, self.owner, sealed_access, sealed_refresh, expires
        ):
            self.pools.set_secret(record.id, tokens.access_token)
            self.tokens[record.id] = (tokens.refresh_token, tokens.expires_at)
            self._access[record.id] = tokens.access_token
        await self._sync()  # the new version (and anything else that changed)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.sync()
        except Exception as exc:  # the database may come back: the loop tries again
            log.error("oauth accounts not loaded", error=repr(exc)[:300])
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                async with self._lock:
                    await self._sync()
                    await self.refresh_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("oauth accounts not synced", error=repr(exc)[:300])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def report(self) -> list[dict[str, object]]:
        """The accounts as the admin API shows them: never a token."""
        out = []
        for account, record in self.records.items():
            _, expiry = self.tokens.get(account, (None, None))
            keys = self.pools.keys.get(account, [])
            out.append(
                {
                    **record.public(),
                    "expires_in": round(expiry - self.clock(), 1) if expiry else None,
                    "key_state": keys[0].state if keys else None,
                    "key_reason": keys[0].reason if keys else None,
                }
            )
        return out


def origin_of(runtime: Runtime, provider: str) -> Origin:
    """Where a provider's destinations came from (the config file, or the admin API), which
    decides how the outbound policy judges its token and device endpoints."""
    spec = runtime.providers.get(provider)
    return Origin(spec.egress.origin) if spec is not None else Origin.CONFIG


def oauth_providers(runtime: Runtime) -> Mapping[str, OAuthProfile]:
    return {
        name: p.oauth
        for name, p in runtime.config.providers.items()
        if p.auth == "oauth" and p.oauth is not None
    }


async def start_accounts(
    runtime: Runtime, board: HealthBoard, storage: Storage | None, policy: OutboundPolicy
) -> OAuthAccounts | None:
    """The accounts of a gateway whose config has a provider with ``auth: oauth`` (else
    None), started: loaded from the database of ``storage`` (or kept in memory without one)."""
    if not oauth_providers(runtime):
        return None
    store: AccountStore
    if storage is not None and storage.engine is not None:
        from turnout.storage.sql.accounts import SqlAccountStore

        store = SqlAccountStore(storage.engine)
    else:
        store = MemoryAccountStore()
    try:
        box = SecretBox.from_env()
    except SecretKeyError as exc:
        log.error("oauth accounts: TURNOUT_SECRET_KEY is not usable", error=str(exc))
        box = None
    accounts = OAuthAccounts(runtime, board, store, box, policy)
    await accounts.start()
    return accounts
