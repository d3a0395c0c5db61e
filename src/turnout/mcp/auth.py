"""How the gateway authenticates to an upstream MCP server: static headers, or an OAuth 2.0
client-credentials token fetched from the server's token endpoint and refreshed before it
expires (and once more when the server answers 401). Secrets stay in headers: they are
never logged, and status reports show only the auth type."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncGenerator
from urllib.parse import quote

import httpx2

from turnout.mcp.config import McpServerConfig

_EARLY = 30.0  # seconds before expiry a token is renewed


def auth_headers(cfg: McpServerConfig) -> dict[str, str]:
    """The configured headers plus a static credential."""
    headers = dict(cfg.headers)
    auth = cfg.auth
    if auth is not None and auth.type == "bearer" and auth.token:
        headers["Authorization"] = f"Bearer {auth.token}"
    elif auth is not None and auth.type == "header" and auth.header and auth.value:
        headers[auth.header] = auth.value
    return headers


class ClientCredentials(httpx2.Auth):
    """OAuth 2.0 client credentials (RFC 6749 §4.4), the token cached until shortly before it
    expires."""

    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, secret: str, scope: str | None) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.secret = secret
        self.scope = scope
        self.token: str | None = None
        self.expires = 0.0

    def _token_request(self) -> httpx2.Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        # HTTP Basic with form-encoded parts, the RFC's default (RFC 6749 §2.3.1).
        pair = f"{quote(self.client_id, safe='')}:{quote(self.secret, safe='')}"
        basic = base64.b64encode(pair.encode()).decode()
        return httpx2.Request(
            "POST",
            self.token_url,
            data=form,
            headers={"accept": "application/json", "authorization": f"Basic {basic}"},
        )

    def _take(self, response: httpx2.Response) -> None:
        if response.status_code != 200:
            raise PermissionError(f"token endpoint answered {response.status_code}")
        data = response.json()
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise PermissionError("token endpoint gave no access_token")
        lifetime = data.get("expires_in")
        self.token = token
        self.expires = time.monotonic() + (
            float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 3600.0
        )

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        if self.token is None or time.monotonic() > self.expires - _EARLY:
            await self._fetch((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:  # revoked early: one fresh token, one retry
            await self._fetch((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request

    async def _fetch(self, response: httpx2.Response) -> None:
        await response.aread()  # the MCP transports stream their responses
        self._take(response)


def upstream_auth(cfg: McpServerConfig) -> httpx2.Auth | None:
    auth = cfg.auth
    if auth is None or auth.type != "oauth_client_credentials":
        return None
    assert auth.token_url and auth.client_id and auth.client_secret  # checked by the schema
    return ClientCredentials(auth.token_url, auth.client_id, auth.client_secret, auth.scope)
