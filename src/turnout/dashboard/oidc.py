"""Operator sign-in with OpenID Connect: discovery, the code flow with PKCE, state and nonce,
ID token validation against the provider's JWKS, claims → role, and logout.

The protocol work is done by libraries: Authlib builds the authorization request and the token
request (PKCE S256), joserfc verifies the ID token's signature against the provider's key set
and checks its claims (issuer, audience, expiry, nonce). What this module adds is the plumbing:

- **discovery** (``{issuer}/.well-known/openid-configuration``) is read once and kept for an
  hour; its ``issuer`` must be the configured one;
- **JWKS caching and rotation**: the key set is kept until an ID token names a key id it does
  not hold, then fetched again (at most once every ``JWKS_REFETCH`` seconds, so forged key
  ids cannot make the gateway hammer the provider; ID tokens come from the token endpoint,
  not from the browser, so only the provider itself could send one);
- **state, nonce and the PKCE verifier** travel in a short-lived signed cookie
  (``Path=/admin/oidc``, HttpOnly, SameSite=Lax so it comes back with the provider's redirect),
  so any replica can finish a sign-in another one started;
- **roles**: the values of one claim (``roles.claim``, a string or a list) are matched
  against ``roles.admin``, ``roles.viewer`` and ``roles.team_admin``; admin wins over team
  admin over viewer; a sign-in that matches none is refused (403).

Every request to the provider goes through the outbound policy (``Origin.CONFIG``). joserfc
is imported when first used: a gateway without single sign-on never loads it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson

from turnout.config.providers import OAuthProfile
from turnout.config.schema import OIDCConfig
from turnout.oauth.client import OAuthClient, OAuthError, pkce_pair
from turnout.outbound.fetch import fetch
from turnout.outbound.policy import Origin, OutboundPolicy

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

DISCOVERY_TTL = 3600.0
JWKS_REFETCH = 1.0
PENDING_LIFETIME = 600
PENDING_COOKIE = "turnout_oidc"
PENDING_PATH = "/admin/oidc"
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
MAX_DOCUMENT = 256 * 1024


class SignInError(Exception):
    """A sign-in that cannot finish; ``status`` is what the browser gets."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Pending:
    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    return_to: str
    expires: int

    def __repr__(self) -> str:
        return f"Pending(expires={self.expires})"

    def dump(self) -> bytes:
        return b"oidc|" + orjson.dumps(
            {
                "state": self.state,
                "nonce": self.nonce,
                "verifier": self.verifier,
                "redirect_uri": self.redirect_uri,
                "return_to": self.return_to,
                "exp": self.expires,
            }
        )

    @classmethod
    def load(cls, raw: bytes | None, now: float) -> Pending | None:
        if raw is None or not raw.startswith(b"oidc|"):
            return None
        try:
            d = orjson.loads(raw[5:])
            pending = cls(
                str(d["state"]),
                str(d["nonce"]),
                str(d["verifier"]),
                str(d["redirect_uri"]),
                str(d["return_to"]),
                int(d["exp"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        return pending if pending.expires > now else None


@dataclass(frozen=True, slots=True)
class Operator:
    subject: str  # the issuer's ``sub``
    name: str | None
    role: str  # "admin" or "viewer"
    teams: tuple[str, ...]  # a team admin's teams


def safe_return(path: str | None) -> str:
    """Only a path of this site (never ``//host`` or a URL): no open redirect. Browsers drop
    tabs and newlines from a URL and read ``\\`` as ``/``, so ``/<tab>/evil.example`` is
    ``//evil.example`` to them: a path holding either, a space or any control character is
    refused whole."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/ui/"
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in path):
        return "/ui/"
    return path


class OIDC:
    def __init__(self, cfg: OIDCConfig, policy: OutboundPolicy, clock: Any = time.time) -> None:
        self.cfg = cfg
        self.policy = policy
        self.clock = clock
        self.issuer = cfg.issuer.rstrip("/")
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = -JWKS_REFETCH
        self.jwks_fetches = 0

    def __repr__(self) -> str:
        return f"OIDC(issuer={self.issuer!r})"

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            got = await fetch(
                self.policy, url, origin=Origin.CONFIG, max_bytes=MAX_DOCUMENT, timeout=10
            )
        except Exception as exc:
            raise SignInError(
                502, f"the identity provider is unreachable ({type(exc).__name__})"
            ) from None
        try:
            data = orjson.loads(got.body)
        except orjson.JSONDecodeError:
            data = None
        if got.status != 200 or not isinstance(data, dict):
            raise SignInError(502, f"the identity provider answered {url} with HTTP {got.status}")
        return data

    async def metadata(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._metadata is None or now - self._metadata_at > DISCOVERY_TTL:
            data = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(data.get("issuer", "")).rstrip("/") != self.issuer:
                raise SignInError(502, "the discovery document names another issuer")
            for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(data.get(needed), str):
                    raise SignInError(502, f"the discovery document has no {needed}")
            self._metadata, self._metadata_at = data, now
        return self._metadata

    async def keys(self, kid: str | None) -> KeySet:
        """The provider's key set, fetched again when a token names a key it lacks (the
        provider rotated its keys), at most once every JWKS_REFETCH seconds. A token that
        names an unknown key within that window of the last fetch waits the window out (a
        sleep, no work) rather than failing: a rotation right after a sign-in is followed, and
        forged key ids still cost at most one fetch per window."""
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        def known() -> bool:
            return self._keys is not None and (
                kid is None or any(k.kid == kid for k in self._keys.keys)
            )

        now = time.monotonic()
        due = now - self._keys_at >= JWKS_REFETCH
        if not known() and not due:
            last = self._keys_at
            await asyncio.sleep(last + JWKS_REFETCH - now)
            now = time.monotonic()
            # The window is over (asyncio may wake a hair early, so no clock test here) unless
            # another sign-in fetched meanwhile.
            due = self._keys_at == last
        if not known() and due:
            meta = await self.metadata()
            data = await self._get_json(meta["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError):
                raise SignInError(502, "the identity provider's key set is not usable") from None
            self._keys_at = now
            self.jwks_fetches += 1
        if self._keys is None:
            raise SignInError(502, "the identity provider's key set is not available")
        return self._keys

    def _client(self, meta: dict[str, Any]) -> OAuthClient:
        profile = OAuthProfile(
            token_url=meta["token_endpoint"],
            authorization_url=meta["authorization_endpoint"],
            client_id=self.cfg.client_id,
            client_secret=self.cfg.client_secret,
            scopes=list(self.cfg.scopes),
        )
        return OAuthClient(profile, self.policy, origin=Origin.CONFIG)

    async def begin(self, redirect_uri: str, return_to: str | None) -> tuple[str, Pending]:
        """The provider's authorization URL and what the callback must find again."""
        meta = await self.metadata()
        verifier, challenge = pkce_pair()
        pending = Pending(
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            verifier,
            redirect_uri,
            safe_return(return_to),
            int(self.clock()) + PENDING_LIFETIME,
        )
        url = self._client(meta).authorization_url(
            redirect_uri, pending.state, challenge, nonce=pending.nonce
        )
        return url, pending

    async def finish(self, pending: Pending, code: str, state: str) -> Operator:
        """Exchange the code, check the ID token, and map its claims to a role."""
        if not secrets.compare_digest(state, pending.state):
            raise SignInError(400, "the sign-in's state does not match: start again")
        meta = await self.metadata()
        try:
            tokens = await self._client(meta).exchange_code(
                code, pending.redirect_uri, pending.verifier
            )
        except OAuthError as exc:
            raise SignInError(
                401, f"the identity provider refused the sign-in ({exc.error})"
            ) from None
        if not tokens.id_token:
            raise SignInError(502, "the identity provider sent no ID token")
        claims = await self.verify(tokens.id_token, pending.nonce)
        return self.operator(claims)

    async def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        from joserfc import jws, jwt
        from joserfc.errors import JoseError

        try:
            header = jws.extract_compact(id_token.encode()).protected
        except (JoseError, ValueError):
            raise SignInError(401, "the ID token is malformed") from None
        keys = await self.keys(header.get("kid"))
        try:
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                now=int(self.clock()),
                leeway=60,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.cfg.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise SignInError(401, f"the ID token is not valid ({type(exc).__name__})") from None
        return dict(token.claims)

    def operator(self, claims: dict[str, Any]) -> Operator:
        roles = self.cfg.roles
        raw = claims.get(roles.claim)
        values = {raw} if isinstance(raw, str) else {v for v in raw or () if isinstance(v, str)}
        teams = tuple(sorted({t for v in values for t in roles.team_admin.get(v, ())}))
        if values & set(roles.admin):
            role, teams = "admin", ()
        elif teams or values & set(roles.viewer):
            role = "viewer"
        else:
            raise SignInError(403, f"this account has no role here (claim {roles.claim!r})")
        name = claims.get("email") or claims.get("name") or claims.get("preferred_username")
        return Operator(str(claims["sub"]), str(name) if name else None, role, teams)

    async def logout_url(self, return_to: str) -> str | None:
        """Where the browser goes to end the provider's session too (RP-initiated logout),
        when the provider has an ``end_session_endpoint``."""
        try:
            meta = await self.metadata()
        except SignInError:
            return None
        end = meta.get("end_session_endpoint")
        if not isinstance(end, str):
            return None
        query = urlencode({"client_id": self.cfg.client_id, "post_logout_redirect_uri": return_to})
        return f"{end}{'&' if '?' in end else '?'}{query}"
