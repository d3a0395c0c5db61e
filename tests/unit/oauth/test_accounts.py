"""The account store's contract (memory and SQLite) and the gateway side of accounts: joining
the key pools, refresh under a lease, invalid_grant, removal."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.unit.routing.helpers import runtime
from turnout.crypto import SecretBox
from turnout.health.board import HealthBoard
from turnout.health.breaker import INVALID
from turnout.oauth.accounts import AccountRecord, AccountStore, MemoryAccountStore, context
from turnout.oauth.client import OAuthError, Tokens
from turnout.oauth.pools import AccountKey
from turnout.oauth.service import OAuthAccounts
from turnout.outbound import OutboundPolicy

BOX = SecretBox.from_text("ab" * 32)
RAW = {
    "providers": {
        "corp": {
            "type": "openai-compatible",
            "base_url": "http://127.0.0.1:9/v1",
            "auth": "oauth",
            "oauth": {"token_url": "http://127.0.0.1:9/token", "client_id": "c"},
        },
    },
    "models": {"m": {"deployments": [{"provider": "corp", "model": "x"}]}},
}


def record(
    account: str = "acct_1",
    access: str = "at-1",
    refresh: str | None = "rt-1",
    expires_in: float = 3600,
) -> AccountRecord:
    return AccountRecord(
        id=account,
        provider="corp",
        access_token=BOX.seal(access, context(account, "corp", "access")),
        refresh_token=BOX.seal(refresh, context(account, "corp", "refresh")) if refresh else None,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
    )


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.error: str | None = None

    async def refresh(self, refresh_token: str) -> Tokens:
        self.calls.append(refresh_token)
        if self.error:
            raise OAuthError(self.error, "revoked")
        n = len(self.calls) + 1
        return Tokens(f"at-{n}", f"rt-{n}", time.time() + 3600)


def accounts(store: AccountStore) -> tuple[OAuthAccounts, HealthBoard, FakeClient]:
    rt = runtime(RAW)
    board = HealthBoard(rt)
    service = OAuthAccounts(rt, board, store, BOX, OutboundPolicy.from_config(rt.config.outbound))
    fake = FakeClient()
    service.clients["corp"] = fake  # type: ignore[assignment]
    return service, board, fake


async def test_accounts_join_the_pool_refresh_and_turn_invalid() -> None:
    store = MemoryAccountStore()
    service, board, fake = accounts(store)
    pool = board.pools[("corp", "x")]
    assert len(pool.keys) == 1 and pool.keys[0].state == INVALID  # no account yet: says why
    assert "no account" in (pool.keys[0].reason or "")

    await store.add(record("acct_1", expires_in=60))  # due: within refresh_before (300 s)
    await service.sync()
    assert [type(k) for k in pool.keys] == [AccountKey] and pool.keys[0].secret == "at-1"
    assert pool.keys[0].id == "corp/x#acct_1" and "at-1" not in repr(pool.keys[0])

    await service.refresh_due()
    assert fake.calls == ["rt-1"] and pool.keys[0].secret == "at-2"
    await service.refresh_due()
    assert fake.calls == ["rt-1"]  # not due any more

    await store.add(record("acct_2", "at-b", "rt-b", expires_in=60))
    await service.sync()
    assert {k.secret for k in pool.keys} == {"at-2", "at-b"}
    fake.error = "invalid_grant"
    await service.refresh("acct_2")
    bad = next(k for k in pool.keys if k.secret == "at-b")
    assert bad.state == INVALID and "invalid_grant" in (bad.reason or "")
    found = await store.get("acct_2")
    assert found is not None and found.status == "invalid"
    assert pool.pick(time.monotonic()) is not bad  # routing skips it

    await store.delete("acct_1")
    await service.sync()
    assert [k.secret for k in pool.keys] == ["at-b"]


async def test_a_lease_held_elsewhere_means_no_refresh_here() -> None:
    store = MemoryAccountStore()
    one, _, fake_one = accounts(store)
    two, board_two, fake_two = accounts(store)
    await store.add(record("acct_1", expires_in=60))
    await one.sync()
    await two.sync()
    assert await store.lease("acct_1", two.owner, 30) is not None  # two is at it
    assert not await one.refresh("acct_1") and fake_one.calls == []
    await store.release("acct_1", two.owner)
    assert await two.refresh("acct_1") and fake_two.calls == ["rt-1"]
    assert not await one.refresh("acct_1")  # sees the new version instead of refreshing
    assert fake_one.calls == []
    assert board_two.pools[("corp", "x")].keys[0].secret == "at-2"


async def test_tokens_that_no_key_opens_make_the_account_invalid_not_a_crash() -> None:
    store = MemoryAccountStore()
    service, board, _ = accounts(store)
    other = SecretBox.from_text("cd" * 32)
    await store.add(
        AccountRecord("acct_x", "corp", other.seal("at", context("acct_x", "corp", "access")))
    )
    await service.sync()
    key = board.pools[("corp", "x")].keys[-1]
    assert key.state == INVALID and "cannot be opened" in (key.reason or "")
    assert other.key_id in (key.reason or "")


async def test_an_invalid_account_stays_invalid_whatever_a_probe_says() -> None:
    store = MemoryAccountStore()
    service, board, _ = accounts(store)
    await store.add(record("acct_1"))
    await store.invalidate("acct_1", None, "invalid_grant: revoked")
    await service.sync()
    key = board.pools[("corp", "x")].keys[0]
    assert key.reason == "oauth: invalid_grant: revoked"
    now = time.monotonic()
    key.mark(INVALID, "invalid_key", now + 60, now)  # what a keeper's probe would do
    await service.sync()
    assert key.reason == "oauth: invalid_grant: revoked" and key.until > now + 3600


async def test_a_reload_keeps_the_accounts_and_their_key_state() -> None:
    store = MemoryAccountStore()
    service, board, _ = accounts(store)
    await store.add(record("acct_1"))
    await service.sync()
    key = board.pools[("corp", "x")].keys[0]
    now = time.monotonic()
    key.mark("rate_limited", "rate_limited", now + 30, now)
    raw: dict[str, Any] = copy.deepcopy(RAW)
    raw["models"]["m2"] = {"deployments": [{"provider": "corp", "model": "y"}]}
    rt = runtime(raw)
    fresh = HealthBoard(rt, board)
    service.use(rt, fresh)
    assert fresh.pools[("corp", "x")].keys == (key,)  # the same object: its cooldown stays
    [other] = fresh.pools[("corp", "y")].keys
    assert isinstance(other, AccountKey) and other.secret == "at-1"
