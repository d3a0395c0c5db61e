"""Who may use the admin API through the dashboard: sign-in, sessions, roles, CSRF.

:class:`DashboardAccess` is what the admin guard asks about requests that carry no key but a
session cookie (:mod:`turnout.dashboard.session`), and what ``/admin/session`` signs in with.
Sign-in takes the master key or a key with an admin role (``admin`` or ``viewer``); repeated
failures from one client address are slowed down (429) so the endpoint is no key oracle.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING

from turnout.auth.records import AdminRole
from turnout.auth.service import AdminDenied, AuthService
from turnout.dashboard.session import CSRF_HEADER, SAFE_METHODS, Session, Sessions, same_origin
from turnout.observability.logging import get_logger

if TYPE_CHECKING:
    from turnout.config.compile import Runtime
    from turnout.dashboard.oidc import OIDC

FAILURES_ALLOWED = 10  # per client address and window
FAILURE_WINDOW = 60.0
_CLIENTS_MAX = 4096
READ_ONLY = "Read-only: this account can look at everything but change nothing."
OIDC_SUBJECT = "oidc:"

log = get_logger("turnout.dashboard")


class TeamScoped(AdminDenied):
    """A write by a team admin: allowed only on its own teams' keys (the admin guard, which
    sees the path and the body, decides; :mod:`turnout.dashboard.teams`)."""

    def __init__(self, teams: tuple[str, ...]) -> None:
        super().__init__(403, "A team admin may change only its own teams' keys.")
        self.teams = teams


class DashboardAccess:
    def __init__(self, sessions: Sessions, auth: AuthService, oidc: OIDC | None = None) -> None:
        self.sessions = sessions
        self.auth = auth
        self.oidc = oidc  # operator single sign-on (auth.oidc), when configured
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        auth.directory.on_sign_out.append(sessions.revoke)  # signed out on another process

    async def sign_out(self, session: Session) -> None:
        """End ``session`` here at once, and on every process sharing the key store from its
        next poll. Before (2026-12-08) only here: a copied cookie kept working on the other
        workers and replicas, and here again after a restart, until it expired (12 hours)."""
        self.sessions.sign_out(session)
        try:
            await self.auth.store.sign_out(session.sid, session.expires)
        except Exception as exc:  # the store is down: signed out here, said in the log
            log.error("sign-out not shared: the key store did not answer", error=repr(exc)[:200])

    # -- every admin request ------------------------------------------------------------------
    def session_of(self, headers: Mapping[bytes, bytes]) -> Session | None:
        token = Sessions.from_cookie_header(headers.get(b"cookie"))
        return self.sessions.verify(token) if token else None

    def admit(self, headers: Mapping[bytes, bytes], method: str) -> AdminRole | None:
        """The role of a request authenticated by its session cookie; None when it has no
        valid session (the guard then asks for a key). Writes need the CSRF token and the
        ``admin`` role."""
        session = self.session_of(headers)
        if session is None:
            return None
        if session.subject.startswith(OIDC_SUBJECT):
            # Signed in through the identity provider: the role its claims gave, for the
            # session's (bounded) lifetime.
            role: AdminRole | None = session.role
        else:
            role = self.auth.subject_role(session.subject)
        if role is None:
            return None  # the key was revoked or lost its role: sign in again
        if session.role == "viewer":
            role = "viewer"
        if method.upper() not in SAFE_METHODS:
            if not same_origin(headers):
                raise AdminDenied(403, "Cross-origin writes are refused.")
            if not self.sessions.csrf_ok(session, headers.get(CSRF_HEADER)):
                raise AdminDenied(403, "Missing or invalid CSRF token (x-csrf-token).")
            if role != "admin":
                if session.teams:
                    raise TeamScoped(session.teams)
                raise AdminDenied(403, READ_ONLY)
        return role

    # -- sign-in ------------------------------------------------------------------------------
    def sign_in(self, secret: str, client: str) -> tuple[str, Session]:
        """Exchange a key for a session token, or raise AdminDenied (401 unknown key, 403 a
        key without an admin role, 429 too many failures from this client)."""
        now = time.monotonic()
        recent = [t for t in self._failures.get(client, []) if now - t < FAILURE_WINDOW]
        if len(recent) >= FAILURES_ALLOWED:
            raise AdminDenied(429, "Too many failed sign-ins: wait a minute and try again.")
        role = self.auth.admin_role(secret)
        if role is None:
            self._fail(client, recent, now)
            if self.auth.directory.lookup(secret.encode()) is not None:
                raise AdminDenied(403, "This key is for model calls only: it has no admin role.")
            raise AdminDenied(401, "Invalid key.")
        self._failures.pop(client, None)
        principal = self.auth.directory.lookup(secret.encode())
        subject = "master" if principal is None else principal.id
        return self.sessions.issue(subject, role)

    def _fail(self, client: str, recent: list[float], now: float) -> None:
        recent.append(now)
        self._failures[client] = recent
        self._failures.move_to_end(client)
        while len(self._failures) > _CLIENTS_MAX:
            self._failures.popitem(last=False)


def oidc_for(runtime: Runtime) -> OIDC | None:
    """Operator single sign-on when ``auth.oidc`` is set (docs/oauth.md); imported only then."""
    cfg = runtime.config.auth.oidc
    if cfg is None:
        return None
    from turnout.dashboard.oidc import OIDC
    from turnout.outbound import OutboundPolicy

    return OIDC(cfg, OutboundPolicy.from_config(runtime.config.outbound))
