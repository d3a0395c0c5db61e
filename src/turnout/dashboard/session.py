"""Dashboard sessions: a key exchanged once for a signed, HttpOnly cookie, with CSRF tokens.

The browser never keeps the key: ``POST /admin/session`` checks it and answers with a cookie
(``HttpOnly``, ``SameSite=Strict``, ``Path=/admin``, ``Secure`` when the request came over
TLS) holding a signed token: who signed in (the master key, or a key id), the role, an expiry
and a random session id. Nothing is stored server-side, so every replica and worker accepts a
session another one issued, as long as they share the signing secret (derived from the master
key, else from ``TURNOUT_SECRET_KEY``; with neither, it is random per process, and a session
only works on the process that made it).

Every write made with a session must carry ``x-csrf-token``, an HMAC of the session id the
page got from the sign-in answer and keeps in memory only; a page on another origin can
neither read it nor (SameSite=Strict) send the cookie. A session of a key is re-checked on
every request: revoking the key, or taking its role away, ends its sessions. Signing out
refuses the session id on this process at once and, through the key store's change feed,
on every other worker and replica sharing the database within its poll (half a second), and
clears the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import orjson

from turnout.crypto import ENV as SECRET_ENV
from turnout.crypto import newest_text

Role = Literal["admin", "viewer"]
ROLES: tuple[str, ...] = ("admin", "viewer")
COOKIE = "turnout_session"
CSRF_HEADER = b"x-csrf-token"
LIFETIME = 12 * 3600
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
_SIGNED_OUT_MAX = 10_000
_VERSION = "v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    subject: str  # "master", a gateway key id, or "oidc:<issuer's subject>"
    role: Role
    expires: int  # epoch seconds
    teams: tuple[str, ...] = ()  # an OIDC team admin: the teams whose keys it manages


class Sessions:
    def __init__(self, secret: bytes, *, lifetime: int = LIFETIME, shared: bool = True) -> None:
        self._key = hmac.new(secret, b"turnout dashboard sessions v1", hashlib.sha256).digest()
        self.lifetime = lifetime
        self.shared = shared  # False: a random secret, valid on this process only
        self._signed_out: OrderedDict[str, int] = OrderedDict()

    @classmethod
    def for_gateway(
        cls, master_digest: bytes | None, environ: Mapping[str, str] = os.environ
    ) -> Sessions:
        """Sign with what every replica shares: the master key's digest, else the secret key
        of sealed credentials, else a random secret of this process."""
        if master_digest is not None:
            return cls(master_digest)
        raw = environ.get(SECRET_ENV)
        if raw and raw.strip():
            return cls(hashlib.sha256(newest_text(raw).encode()).digest())
        return cls(secrets.token_bytes(32), shared=False)

    # -- tokens -------------------------------------------------------------------------------
    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def issue(
        self,
        subject: str,
        role: Role,
        now: float | None = None,
        *,
        teams: tuple[str, ...] = (),
        lifetime: float | None = None,
    ) -> tuple[str, Session]:
        lasts = int(lifetime) if lifetime is not None else self.lifetime
        expires = int(now if now is not None else time.time()) + lasts
        session = Session(secrets.token_urlsafe(16), subject, role, expires, teams)
        data: dict[str, object] = {"sid": session.sid, "sub": subject, "role": role, "exp": expires}
        if teams:
            data["teams"] = list(teams)
        return self.wrap(orjson.dumps(data)), session

    def wrap(self, payload: bytes) -> str:
        """A signed token of ``payload`` (sessions; the OIDC sign-in's pending state)."""
        return f"{_VERSION}.{_b64(payload)}.{_b64(self._sign(payload))}"

    def unwrap(self, token: str) -> bytes | None:
        """The payload of a token :meth:`wrap` made, or None if it is not one."""
        try:
            version, body, mac = token.split(".")
            payload = _unb64(body)
            good = hmac.compare_digest(_unb64(mac), self._sign(payload))
        except (ValueError, TypeError):
            return None
        return payload if version == _VERSION and good else None

    def verify(self, token: str, now: float | None = None) -> Session | None:
        """The session a cookie value stands for, or None (forged, expired, signed out)."""
        payload = self.unwrap(token)
        if payload is None:
            return None
        try:
            data = orjson.loads(payload)
            teams = data.get("teams") or []
            session = Session(
                str(data["sid"]),
                str(data["sub"]),
                data["role"],
                int(data["exp"]),
                tuple(str(t) for t in teams),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None
        if session.role not in ROLES:
            return None
        if session.expires <= (now if now is not None else time.time()):
            return None
        if session.sid in self._signed_out:
            return None
        return session

    def csrf(self, session: Session) -> str:
        return _b64(self._sign(f"csrf|{session.sid}".encode()))

    def csrf_ok(self, session: Session, presented: bytes | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(presented.decode("latin-1"), self.csrf(session))

    def sign_out(self, session: Session) -> None:
        """Refuse this session id from now on, on this process (the cookie is cleared too;
        :class:`~turnout.dashboard.access.DashboardAccess` tells the other processes)."""
        self.revoke(session.sid, session.expires)

    def revoke(self, sid: str, expires: int) -> None:
        """Refuse ``sid`` until ``expires`` (after which its signature refuses it anyway)."""
        now = int(time.time())
        self._signed_out[sid] = expires
        while self._signed_out and (
            len(self._signed_out) > _SIGNED_OUT_MAX or next(iter(self._signed_out.values())) < now
        ):
            self._signed_out.popitem(last=False)

    # -- cookies ------------------------------------------------------------------------------
    @staticmethod
    def from_cookie_header(header: bytes | None) -> str | None:
        """The session cookie's value among a ``Cookie`` header's pairs."""
        if not header:
            return None
        for part in header.decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value:
                return value
        return None

    def set_cookie(self, token: str, *, secure: bool) -> str:
        flags = f"Path=/admin; Max-Age={self.lifetime}; HttpOnly; SameSite=Strict"
        return f"{COOKIE}={token}; {flags}{'; Secure' if secure else ''}"

    @staticmethod
    def clear_cookie(*, secure: bool) -> str:
        flags = "Path=/admin; Max-Age=0; HttpOnly; SameSite=Strict"
        return f"{COOKIE}=; {flags}{'; Secure' if secure else ''}"


def same_origin(headers: Mapping[bytes, bytes]) -> bool:
    """False when the browser says the request comes from a page of another origin (its
    ``Origin`` names another host than the one it asked). Requests without ``Origin`` (not
    from a browser page, or a same-origin GET) pass: the cookie's SameSite and the CSRF
    token are the main defence, this is a second one."""
    origin = headers.get(b"origin")
    if origin is None:
        return True
    named = origin.split(b"://", 1)[-1].rstrip(b"/").lower()
    # Behind a proxy that rewrites Host, X-Forwarded-Host names what the browser asked for
    # (a page cannot set either header on a cross-site request).
    hosts = (headers.get(b"host", b""), headers.get(b"x-forwarded-host", b"").split(b",")[0])
    return any(named == h.strip().lower() for h in hosts if h)


def over_tls(scheme: str, headers: Mapping[bytes, bytes]) -> bool:
    """Whether the browser reached us over TLS: directly, through a proxy that says so, or
    as the page's ``Origin`` says (a browser sends it with every POST and DELETE; a TLS proxy
    may send no ``X-Forwarded-Proto``). Trusting either header only ever adds ``Secure``,
    which can only hurt a spoofer."""
    forwarded = headers.get(b"x-forwarded-proto", b"").split(b",")[0].strip().lower()
    origin = headers.get(b"origin", b"")[:8].lower()
    return scheme == "https" or forwarded == b"https" or origin == b"https://"
