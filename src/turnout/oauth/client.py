"""The OAuth 2.0 client side of provider accounts: authorization URLs with PKCE, the code
exchange, the device flow (RFC 8628) and refresh.

Parameters and PKCE come from Authlib (imported when first used: a gateway without OAuth
never loads it) (``prepare_grant_uri``, ``prepare_token_request``,
``create_s256_code_challenge``); requests go through the outbound policy
(:func:`turnout.outbound.fetch.fetch`), like every connection the gateway opens, bounded in
time and size. A confidential client authenticates with HTTP Basic (``client_secret_basic``),
a public one sends its ``client_id`` in the form. Errors carry the server's ``error`` code
(``invalid_grant`` is what marks an account invalid) and never a token.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from turnout.config.providers import OAuthProfile
from turnout.outbound.fetch import fetch
from turnout.outbound.policy import Origin, OutboundPolicy

MAX_BODY = 256 * 1024
TIMEOUT = 15.0


class OAuthError(Exception):
    """The authorization server said no (``error`` is its code), or could not be used."""

    def __init__(self, error: str, description: str = "", status: int | None = None) -> None:
        self.error = error
        self.description = description[:300]
        self.status = status
        super().__init__(f"{error}: {self.description}" if self.description else error)


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: float | None  # epoch seconds; None: the server did not say
    scope: str | None = None
    id_token: str | None = None  # OpenID Connect sign-ins

    def __repr__(self) -> str:
        return f"Tokens(expires_at={self.expires_at!r})"


@dataclass(frozen=True, slots=True)
class DeviceCode:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    interval: float
    expires_in: float

    def __repr__(self) -> str:
        return f"DeviceCode(user_code={self.user_code!r})"


def pkce_pair() -> tuple[str, str]:
    """A fresh code verifier and its S256 challenge."""
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = generate_token(64)
    return verifier, create_s256_code_challenge(verifier)


class OAuthClient:
    def __init__(
        self,
        profile: OAuthProfile,
        policy: OutboundPolicy,
        *,
        origin: Origin = Origin.CONFIG,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.profile = profile
        self.policy = policy
        self.origin = origin
        self.clock = clock

    def __repr__(self) -> str:
        return f"OAuthClient(token_url={self.profile.token_url!r})"

    # -- authorization code + PKCE ----------------------------------------------------------
    def authorization_url(self, redirect_uri: str, state: str, challenge: str, **extra: str) -> str:
        from authlib.oauth2.rfc6749.parameters import prepare_grant_uri

        p = self.profile
        if not p.authorization_url:
            raise OAuthError("unsupported", "the profile has no authorization_url")
        url: str = prepare_grant_uri(
            p.authorization_url,
            p.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=" ".join(p.scopes) or None,
            state=state,
            code_challenge=challenge,
            code_challenge_method="S256",
            **p.extra_params,
            **extra,
        )
        return url

    async def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> Tokens:
        return await self._token(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=verifier
        )

    # -- device flow -------------------------------------------------------------------------
    async def device_code(self) -> DeviceCode:
        p = self.profile
        if not p.device_authorization_url:
            raise OAuthError("unsupported", "the profile has no device_authorization_url")
        form = {"scope": " ".join(p.scopes)} if p.scopes else {}
        data = await self._post(p.device_authorization_url, {**form, **p.extra_params})
        try:
            return DeviceCode(
                device_code=str(data["device_code"]),
                user_code=str(data["user_code"]),
                verification_uri=str(data.get("verification_uri") or data["verification_url"]),
                verification_uri_complete=data.get("verification_uri_complete"),
                interval=float(data.get("interval") or 5),
                expires_in=float(data.get("expires_in") or 600),
            )
        except (KeyError, TypeError, ValueError):
            raise OAuthError("invalid_response", "not a device authorization answer") from None

    async def poll_device(
        self,
        code: DeviceCode,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> Tokens:
        """Poll until the user approved (or denied, or the code ran out), slowing down when
        asked to (RFC 8628 §3.5)."""
        interval = max(code.interval, 0.1)
        deadline = time.monotonic() + code.expires_in
        while time.monotonic() < deadline:
            await sleep(interval)
            try:
                return await self._token(
                    "urn:ietf:params:oauth:grant-type:device_code", device_code=code.device_code
                )
            except OAuthError as exc:
                if exc.error == "authorization_pending":
                    continue
                if exc.error == "slow_down":
                    interval += 5
                    continue
                raise
        raise OAuthError("expired_token", "the device code ran out before it was approved")

    # -- refresh -----------------------------------------------------------------------------
    async def refresh(self, refresh_token: str) -> Tokens:
        tokens = await self._token("refresh_token", refresh_token=refresh_token)
        if tokens.refresh_token is None:  # the server keeps the old one valid
            return Tokens(tokens.access_token, refresh_token, tokens.expires_at, tokens.scope)
        return tokens

    # -- the wire ----------------------------------------------------------------------------
    async def _token(self, grant_type: str, **params: str) -> Tokens:
        data = await self._post(self.profile.token_url, params, grant_type=grant_type)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise OAuthError("invalid_response", "no access_token in the token answer")
        refresh = data.get("refresh_token")
        expires_in = data.get("expires_in")
        try:
            expires_at = self.clock() + float(expires_in) if expires_in is not None else None
        except (TypeError, ValueError):
            expires_at = None
        scope, id_token = data.get("scope"), data.get("id_token")
        return Tokens(
            token,
            refresh if isinstance(refresh, str) and refresh else None,
            expires_at,
            scope if isinstance(scope, str) else None,
            id_token if isinstance(id_token, str) else None,
        )

    async def _post(
        self, url: str, params: dict[str, str], *, grant_type: str | None = None
    ) -> dict[str, Any]:
        p = self.profile
        headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "application/json"),
        ]
        if p.client_secret:
            pair = f"{quote(p.client_id, safe='')}:{quote(p.client_secret, safe='')}"
            headers.append(("authorization", "Basic " + base64.b64encode(pair.encode()).decode()))
            form = dict(params)
        else:
            form = {**params, "client_id": p.client_id}
        if grant_type is not None:
            from authlib.oauth2.rfc6749.parameters import prepare_token_request

            body: str = prepare_token_request(grant_type, **form)
        else:
            body = urlencode(form)
        try:
            got = await fetch(
                self.policy,
                url,
                origin=self.origin,
                method="POST",
                headers=headers,
                body=body.encode(),
                max_bytes=MAX_BODY,
                timeout=TIMEOUT,
                max_redirects=0,
            )
        except TimeoutError:
            raise OAuthError("temporarily_unavailable", "the server did not answer") from None
        except Exception as exc:  # refused by the policy, unreachable, too large
            raise OAuthError("temporarily_unavailable", type(exc).__name__) from None
        try:
            data = orjson.loads(got.body) if got.body else {}
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise OAuthError("invalid_response", f"HTTP {got.status}, not JSON", got.status)
        if got.status >= 400 or "error" in data:
            error = data.get("error")
            described = data.get("error_description")
            raise OAuthError(
                error if isinstance(error, str) else f"http_{got.status}",
                described if isinstance(described, str) else "",
                got.status,
            )
        return data
