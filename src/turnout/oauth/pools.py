"""Where OAuth accounts sit in the key pools of a health board.

Each account of a provider with ``auth: oauth`` is one :class:`AccountKey` in every key pool
of its provider, so it takes part in routing exactly like an API key. :class:`AccountPools`
is the one place that adds, removes and marks those keys; the accounts service
(:mod:`turnout.oauth.service`) decides when, from the accounts table and its refreshes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from turnout.health.board import HealthBoard
from turnout.health.breaker import INVALID as KEY_INVALID
from turnout.health.breaker import BreakerPolicy, Journal
from turnout.health.targets import KeyHealth
from turnout.oauth.accounts import AccountRecord

FOREVER = 10 * 365 * 86400.0
NO_ACCOUNT = "oauth: no account signed in"


class AccountKey(KeyHealth):
    """A key of a pool that is an OAuth account: named by the account, never by its token."""

    __slots__ = ("account",)

    def __init__(
        self,
        account: str,
        provider: str,
        scope: str,
        index: int,
        token: str,
        policy: BreakerPolicy,
        journal: Journal,
    ) -> None:
        super().__init__(provider, scope, index, token, policy, journal)
        self.account = account
        self.fingerprint = account
        self.id = f"{self.provider}/{self.scope}#{account}"

    def __repr__(self) -> str:
        return f"AccountKey({self.id!r}, state={self.state!r})"


class AccountPools:
    """The accounts' keys in one board's pools, and why the unusable ones are unusable."""

    def __init__(self, board: HealthBoard) -> None:
        self.board = board
        self.keys: dict[str, list[AccountKey]] = {}
        # Why each unusable account (or a provider's placeholder) is unusable: re-asserted on
        # every sync, so a keeper's probe or a trial cannot turn it back into "invalid_key".
        self.unusable: dict[str, str] = {}

    def rebind(self, board: HealthBoard) -> dict[str, list[AccountKey]]:
        """A reload's new board: its pools start without accounts; the old keys are returned
        so that pools that stay can keep theirs (cooldowns and breakers)."""
        old, self.board, self.keys = self.keys, board, {}
        return old

    def _pools(self, provider: str) -> list[tuple[str, str]]:
        return [k for k in self.board.pools if k[0] == provider]

    def placeholders(self, provider: str, reason: str = NO_ACCOUNT) -> None:
        """A provider with no usable account keeps its config's keys; the empty placeholder
        of a keyless provider is marked invalid so the health view says why."""
        now = time.monotonic()
        for pool_id in self._pools(provider):
            for key in self.board.pools[pool_id].keys:
                if not isinstance(key, AccountKey) and not key.secret and key.reason != reason:
                    key.mark(KEY_INVALID, reason, now + FOREVER, now)

    def join(
        self,
        record: AccountRecord,
        token: str,
        previous: Mapping[tuple[str, str], AccountKey] | None = None,
    ) -> None:
        keys = []
        for provider, scope in self._pools(record.provider):
            pool = self.board.pools[(provider, scope)]
            key = (previous or {}).get((provider, scope)) or AccountKey(
                record.id,
                provider,
                scope,
                len(pool.keys),
                token,
                self.board.policy,
                self.board.journal,
            )
            key.index, key.policy = len(pool.keys), self.board.policy
            # An account replaces the empty placeholder of a provider without API keys.
            pool.keys = (*(k for k in pool.keys if k.secret or isinstance(k, AccountKey)), key)
            keys.append(key)
        self.keys[record.id] = keys

    def leave(self, account: str) -> None:
        for key in self.keys.pop(account, []):
            pool = self.board.pools[(key.provider, key.scope)]
            left = tuple(k for k in pool.keys if k is not key)
            if left:
                pool.keys = left
            else:  # never an empty pool: the placeholder comes back, marked
                spec = self.board.runtime.providers[key.provider]
                pool.keys = tuple(
                    KeyHealth(key.provider, key.scope, i, s, self.board.policy, self.board.journal)
                    for i, s in enumerate(spec.api_keys)
                )
        self.unusable.pop(account, None)

    def set_secret(self, account: str, token: str) -> None:
        """A new access token: the very next attempt uses it."""
        for key in self.keys.get(account, []):
            key.secret = token

    def set_invalid(self, account: str, reason: str) -> None:
        self.unusable[account] = reason
        now = time.monotonic()
        for key in self.keys.get(account, []):
            if key.state != KEY_INVALID or key.reason != reason:
                key.mark(KEY_INVALID, reason, now + FOREVER, now)

    def set_usable(self, account: str) -> None:
        """An account valid again: keys the gateway marked for OAuth reasons are reset."""
        self.unusable.pop(account, None)
        now = time.monotonic()
        for key in self.keys.get(account, []):
            if key.state == KEY_INVALID and (key.reason or "").startswith("oauth:"):
                key.reset(now)

    def reassert(self, providers: Iterable[str]) -> None:
        for account, reason in self.unusable.items():
            self.set_invalid(account, reason)
        for name in providers:
            self.placeholders(name)
