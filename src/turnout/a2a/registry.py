"""The agent registry: each configured agent, its cached card and its credentials.

An agent comes from the config file (``Origin.CONFIG``: trusted like a provider's base URL)
or from the admin API (``Origin.ADMIN``: checked by the outbound policy). Its card is fetched
through the outbound policy, cached for ``card_ttl`` and fetched again on the next call after
that; if a refresh fails the last good card keeps serving (an agent whose card host hiccups
still answers). An RPC URL the card names on another origin than the agent's base URL is the
agent's word, not the operator's, and is checked like a caller's URL.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson

from turnout.a2a.card import on_origin, rpc_url_of, same_origin
from turnout.a2a.config import AgentConfig
from turnout.a2a.echoes import mask, spellings
from turnout.errors import GatewayError, UpstreamInvalid, UpstreamTimeout, UpstreamUnavailable
from turnout.observability.logging import get_logger
from turnout.outbound import Origin, OutboundPolicy
from turnout.outbound.display import display_url
from turnout.outbound.fetch import fetch

log = get_logger("turnout.a2a")

MAX_CARD_BYTES = 512 * 1024
CARD_TIMEOUT = 10.0
RETRY_AFTER = 10.0  # seconds a failed first fetch is remembered: a dead agent costs one try


@dataclass(slots=True)
class Agent:
    name: str
    config: AgentConfig
    origin: Origin  # where the agent's URL came from
    card: dict[str, Any] | None = None
    fetched: float = 0.0  # monotonic time of the last good fetch
    rpc_url: str = ""
    rpc_origin: Origin = Origin.CONFIG
    _token: tuple[str, float] | None = None  # OAuth access token, monotonic expiry
    _failed: tuple[GatewayError, float] | None = None  # the last failed fetch, until when
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _secrets: tuple[tuple[str | None, ...], tuple[bytes, ...]] = ((), ())

    def secrets(self) -> tuple[bytes, ...]:
        """The spellings of the gateway's credentials to the agent (configured, and the OAuth
        access token in use), masked in whatever the agent hands a caller (echoes.py)."""
        auth = self.config.auth
        token = self._token[0] if self._token is not None else None
        values = (auth.token, auth.value, auth.client_secret, token)
        if values != self._secrets[0]:  # computed again only when a credential changed
            self._secrets = (values, spellings(values))
        return self._secrets[1]

    @property
    def card_url(self) -> str:
        return self.config.url.rstrip("/") + "/" + self.config.card_path.lstrip("/")

    def fresh(self) -> bool:
        return self.card is not None and time.monotonic() - self.fetched < self.config.card_ttl

    async def ensure_card(self, policy: OutboundPolicy) -> dict[str, Any]:
        """The agent's card, fetched when missing or stale (one fetch at a time)."""
        if self.fresh():
            assert self.card is not None
            return self.card
        failed = self._failed
        if failed is not None and self.card is None and failed[1] > time.monotonic():
            raise failed[0]  # a card that just failed is not fetched again at every call
        async with self._lock:
            if self.fresh():
                assert self.card is not None
                return self.card
            try:
                card = await self._fetch_card(policy)
            except GatewayError as exc:
                if self.card is None:
                    self._failed = (exc, time.monotonic() + RETRY_AFTER)
                    raise
                log.warning("agent card refresh failed", agent=self.name, error=exc.message)
                self.fetched = time.monotonic()  # keep the old card for another ttl
                return self.card
            self._adopt(card)
            self._failed = None
            return card

    @property
    def failure(self) -> str | None:
        """Why the card could not be fetched, while that is remembered (never a secret: the
        gateway's own message)."""
        failed = self._failed
        return failed[0].message if failed is not None and self.card is None else None

    def forget_failure(self) -> None:
        self._failed = None

    def _adopt(self, card: dict[str, Any]) -> None:
        cfg = self.config
        if cfg.rpc_url is not None:
            url, origin = cfg.rpc_url, self.origin
        else:
            named = rpc_url_of(card)
            if named is None:
                url, origin = cfg.url, self.origin
            elif same_origin(named, cfg.url):
                url, origin = named, self.origin
            else:
                # A card names the agent's endpoint, but cannot send the gateway (and the
                # agent's credentials) to another host: its path on the configured origin.
                # (An agent reached at an internal address names its public one, for one.)
                moved = on_origin(named, cfg.url)
                url, origin = (moved or cfg.url), self.origin
                if url != self.rpc_url:  # once, not at every refresh of the card
                    log.info(
                        "a2a card names another origin: its path on the configured one is used",
                        agent=self.name,
                        named=display_url(named),
                        used=display_url(url),
                    )
        self.card, self.fetched, self.rpc_url, self.rpc_origin = (
            card,
            time.monotonic(),
            url,
            origin,
        )

    async def _fetch_card(self, policy: OutboundPolicy) -> dict[str, Any]:
        where = f"agent {self.name}"
        try:
            got = await fetch(
                policy,
                self.card_url,
                origin=self.origin,
                headers=await self.auth_headers(policy),
                max_bytes=MAX_CARD_BYTES,
                timeout=min(CARD_TIMEOUT, self.config.timeouts.total),
            )
        except TimeoutError:
            raise UpstreamTimeout(f"{where}: its card did not arrive in time") from None
        except UpstreamInvalid:
            raise
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailable(f"{where}: its card cannot be fetched ({exc})") from None
        if got.status != 200:
            raise UpstreamUnavailable(f"{where}: its card answered HTTP {got.status}")
        try:  # fetched with the agent's credentials, served to callers: masked (echoes.py)
            card = orjson.loads(mask(got.body, self.secrets()))
        except orjson.JSONDecodeError:
            raise UpstreamInvalid(f"{where}: its card is not JSON") from None
        if not isinstance(card, dict) or not isinstance(card.get("name"), str):
            raise UpstreamInvalid(f"{where}: its card is not an agent card")
        return card

    async def auth_headers(self, policy: OutboundPolicy) -> list[tuple[str, str]]:
        """The gateway's credentials to the agent (never the caller's)."""
        auth = self.config.auth
        if auth.type == "bearer" and auth.token:
            return [("authorization", f"Bearer {auth.token}")]
        if auth.type == "header" and auth.header and auth.value is not None:
            return [(auth.header, auth.value)]
        if auth.type == "oauth2":
            return [("authorization", f"Bearer {await self._access_token(policy)}")]
        return []

    async def _access_token(self, policy: OutboundPolicy) -> str:
        """OAuth 2.0 client credentials, cached until shortly before the token expires."""
        token = self._token
        if token is not None and token[1] > time.monotonic():
            return token[0]
        auth = self.config.auth
        if not (auth.token_url and auth.client_id and auth.client_secret):
            raise UpstreamUnavailable(f"agent {self.name}: oauth2 needs token_url and a client")
        form = {
            "grant_type": "client_credentials",
            "client_id": auth.client_id,
            "client_secret": auth.client_secret,
        }
        if auth.scopes:
            form["scope"] = " ".join(auth.scopes)
        try:
            got = await fetch(
                policy,
                auth.token_url,
                origin=self.origin,
                method="POST",
                headers=[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("accept", "application/json"),
                ],
                body=urlencode(form).encode(),
                max_bytes=64 * 1024,
                timeout=CARD_TIMEOUT,
                max_redirects=0,
            )
        except TimeoutError:
            raise UpstreamTimeout(f"agent {self.name}: its token endpoint timed out") from None
        try:
            data = orjson.loads(got.body) if got.status == 200 else None
        except orjson.JSONDecodeError:
            data = None
        access = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(access, str) or not access:
            # The endpoint's answer may hold secrets: only its status is reported.
            raise UpstreamUnavailable(
                f"agent {self.name}: its token endpoint gave no access token (HTTP {got.status})"
            )
        expires = data.get("expires_in") if isinstance(data, dict) else None
        ttl = float(expires) if isinstance(expires, int | float) and expires > 0 else 300.0
        self._token = (access, time.monotonic() + max(1.0, ttl - 30.0))
        return access


class Registry:
    """Agents by name; replaced whole whenever the serving config changes (the file's agents
    and those the admin API stored, :mod:`turnout.a2a.managed`)."""

    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {}

    def load(
        self, configured: dict[str, AgentConfig], stored: frozenset[str] = frozenset()
    ) -> None:
        """The serving config's agents; ``stored`` names those from the admin API (their URLs
        are admin destinations, checked by the outbound policy on every connection)."""
        fresh: dict[str, Agent] = {}
        for name, cfg in configured.items():
            origin = Origin.ADMIN if name in stored else Origin.CONFIG
            old = self.agents.get(name)
            if old is not None and old.origin is origin and old.config == cfg:
                fresh[name] = old  # unchanged: keep its card and token
            else:
                fresh[name] = Agent(name, cfg, origin)
        self.agents = fresh

    def get(self, name: str) -> Agent | None:
        return self.agents.get(name)
