"""Every replica's in-memory copy of the key and team tables, kept current from the store.

The request path only ever does ``by_digest.get(sha256(key))``. The copy follows the store's
change feed (:meth:`KeyStore.changes`): a poll every ``auth.refresh_interval`` (0.5 s) reads
one integer when nothing changed, and only the changed rows otherwise, so a key revoked on any
replica or from the CLI stops working everywhere within about half a second, and a database
outage changes nothing for callers (the last copy keeps serving, docs/reliability.md row 14).
A change made through this replica's own admin API is applied at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from turnout.auth.principal import Principal, compile_principal
from turnout.auth.records import Changes, KeyRecord, TeamRecord
from turnout.auth.tokens import digest


class Directory:
    def __init__(self) -> None:
        self.version = -1  # nothing loaded yet
        self.keys: dict[str, KeyRecord] = {}
        self.teams: dict[str, TeamRecord] = {}
        self.by_digest: dict[bytes, Principal] = {}
        self._digest_of: dict[str, bytes] = {}  # key id -> digest currently served
        self.on_change: list[Callable[[], None]] = []
        # Told of dashboard sessions signed out anywhere (turnout.dashboard.session).
        self.on_sign_out: list[Callable[[str, int], None]] = []

    @property
    def loaded(self) -> bool:
        return self.version >= 0

    @property
    def any_keys(self) -> bool:
        """Keys were ever created (revoked ones count: revoking the last key must not turn
        authentication off)."""
        return bool(self.keys)

    @property
    def limited(self) -> bool:
        return any(p.limited for p in self.by_digest.values())

    @property
    def settles(self) -> bool:
        """Some key's calls must be reconciled with their real usage (TPM or a budget)."""
        return any(p.settles for p in self.by_digest.values())

    def apply(self, changes: Changes) -> bool:
        """Merge a batch of changed rows; returns whether a key or team changed."""
        for sid, expires in changes.sign_outs:
            for revoke in self.on_sign_out:
                revoke(sid, expires)
        if not changes.keys and not changes.teams:
            self.version = max(self.version, changes.version)
            return False
        dirty: set[str] = set()
        for team in changes.teams:
            self.teams[team.name] = team
            dirty.update(k.id for k in self.keys.values() if k.team == team.name)
        for key in changes.keys:
            self.keys[key.id] = key
            dirty.add(key.id)
        self._rebuild(dirty)
        self.version = max(self.version, changes.version)
        for callback in self.on_change:
            callback()
        return True

    def put(self, keys: Iterable[KeyRecord] = (), teams: Iterable[TeamRecord] = ()) -> None:
        """A change made here: served at once, before the next poll confirms it."""
        self.apply(Changes(self.version, list(keys), list(teams)))

    def _rebuild(self, ids: set[str]) -> None:
        for key_id in ids:
            old = self._digest_of.pop(key_id, None)
            if old is not None:
                self.by_digest.pop(old, None)
            key = self.keys[key_id]
            if key.revoked:
                continue
            team = self.teams.get(key.team) if key.team else None
            if key.team and (team is None or not team.active):
                continue  # a key of a deleted (or unknown) team does not authenticate
            d = bytes.fromhex(key.hash)
            self.by_digest[d] = compile_principal(key, team)
            self._digest_of[key_id] = d

    def lookup(self, secret: bytes) -> Principal | None:
        return self.by_digest.get(digest(secret))

    def principal_of(self, key_id: str) -> Principal | None:
        """A key's principal by its id (None for a key revoked, of a deleted team, or
        unknown): for work done on a key's behalf after another caller asked for it (a
        batch's output read by an admin is charged to the batch's owner)."""
        d = self._digest_of.get(key_id)
        return None if d is None else self.by_digest.get(d)

    def team_of(self, key_id: str) -> str | None:
        key = self.keys.get(key_id)
        return None if key is None else key.team

    def budget_scopes(self) -> list[tuple[str, str, str, str]]:
        """(scope, "key" or "team", id, period) of every budget in force: what spend is
        seeded for from the request log."""
        out: list[tuple[str, str, str, str]] = [
            (f"k:{k.id}", "key", k.id, k.budget.period)
            for k in self.keys.values()
            if k.budget is not None and not k.revoked
        ]
        out += [
            (f"t:{t.name}", "team", t.name, t.budget.period)
            for t in self.teams.values()
            if t.budget is not None and t.active
        ]
        return out
