"""``turnout secrets rotate`` covers every sealed column: provider credentials, both tokens of
OAuth accounts and the keys of providers managed through the admin API; a value no key opens
is named, the others still move."""

from __future__ import annotations

from pathlib import Path

from turnout.auth.credentials import CredentialRecord
from turnout.auth.credentials import context as cred_context
from turnout.crypto import SecretBox
from turnout.live.store import Entry, seal_context
from turnout.oauth.accounts import AccountRecord, context
from turnout.storage.sql.accounts import SqlAccountStore
from turnout.storage.sql.credentials import SqlCredentialStore
from turnout.storage.sql.engine import make_engine, migrate
from turnout.storage.sql.managed import SqlManagedStore
from turnout.storage.sql.sealed import rotate, status

OLD, NEW, LOST = (SecretBox.from_text(c * 64) for c in "abc")


async def test_rotation_moves_credentials_and_tokens_to_the_newest_key(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/r.db")
    await migrate(engine)
    try:
        creds, accounts = SqlCredentialStore(engine), SqlAccountStore(engine)
        await creds.add(
            CredentialRecord("cred_1", "oa", "sk-…", OLD.seal("sk-1", cred_context("cred_1", "oa")))
        )
        await accounts.add(
            AccountRecord(
                "acct_1",
                "corp",
                OLD.seal("at", context("acct_1", "corp", "access")),
                OLD.seal("rt", context("acct_1", "corp", "refresh")),
            )
        )
        managed = SqlManagedStore(engine)
        sealed = [OLD.seal(k, seal_context("corp-managed")) for k in ("sk-m1", "sk-m2")]
        await managed.put(Entry("provider", "corp-managed", {"type": "openai"}, sealed))
        await accounts.add(  # sealed under a key nobody has any more
            AccountRecord("acct_2", "corp", LOST.seal("at2", context("acct_2", "corp", "access")))
        )
        box = SecretBox.from_text(f"{'b' * 64},{'a' * 64}")
        before = await status(engine, box)
        assert before.by_key == {OLD.key_id: 5, LOST.key_id: 1} and before.rotated == 0
        done = await rotate(engine, box)
        assert done.rotated == 5 and len(done.problems) == 1
        assert "oauth_accounts acct_2 (access_token" in str(done.problems[0])
        assert LOST.key_id in str(done.problems[0])
        again = await rotate(engine, box)
        assert again.rotated == 0 and again.current == 5
        got = await accounts.get("acct_1")
        assert got is not None and got.refresh_token is not None
        assert NEW.open(got.access_token, context("acct_1", "corp", "access")) == "at"
        assert NEW.open(got.refresh_token, context("acct_1", "corp", "refresh")) == "rt"
        _, [entry] = await managed.load()
        assert [NEW.open(k, seal_context("corp-managed")) for k in entry.sealed_keys] == [
            "sk-m1",
            "sk-m2",
        ]
        [cred] = await creds.list()
        assert NEW.open(cred.secret, cred_context("cred_1", "oa")) == "sk-1"
    finally:
        await engine.dispose()
