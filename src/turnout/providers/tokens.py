"""Bearer tokens for cloud providers: fetched once per credential, reused until shortly before
they expire, refreshed by one task at a time.

Azure's Entra ID and Google's OAuth tokens live about an hour; fetching one per request would
add a round trip to every call and hammer the token endpoint. So each credential (one entry of
a provider's key pool) has one cached token, refreshed ``margin`` seconds before it expires;
concurrent requests that find it stale wait on the same refresh instead of each starting one.
A 401 from the upstream drops the token (:meth:`TokenCache.drop`), so a revoked token is not
reused until its nominal expiry.

A failed fetch is an :class:`~turnout.errors.UpstreamUnavailable` (502, failover) that names
the provider and what the token endpoint said, never the credential. So is a token that is not
one: a token endpoint is an upstream like any other, and what it answers goes into the
``Authorization`` header of every request, so only an RFC 6750 token (letters, digits and
``-._~+/``, then ``=`` padding; at most 16 KiB) is used, never one holding a CR or LF that would
add headers of the endpoint's choosing. A lifetime that is not a finite number is an hour.
Requests that waited on a fetch that failed share its failure instead of each fetching in turn:
with a token endpoint that hangs, the n-th of n concurrent requests would otherwise wait n
timeouts. The next request after the failure tries again.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from turnout.errors import UpstreamUnavailable

# A fetch: the credential (a pool entry) -> (token, seconds it is valid for).
Fetch = Callable[[str], Awaitable[tuple[str, float]]]
MARGIN = 300.0  # refresh five minutes ahead, as the cloud SDKs do
MIN_LIFETIME = 30.0  # a token said to live less than this is still used once
DEFAULT_LIFETIME = 3600.0  # when the endpoint's lifetime is not a number
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{1,16384}=*")


@dataclass(slots=True)
class _Entry:
    token: str = ""
    expires: float = 0.0  # monotonic
    lock: asyncio.Lock | None = None
    finished: int = 0  # fetches ended, so a waiter knows whether one ended while it waited
    failure: str | None = None  # why the last fetch failed (None: it succeeded)


class TokenError(Exception):
    """A token endpoint refused or could not be reached; the message names no secret."""


class TokenCache:
    __slots__ = ("_clock", "_entries", "_fetch", "_margin", "_provider")

    def __init__(
        self,
        provider: str,
        fetch: Fetch,
        *,
        margin: float = MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._fetch = fetch
        self._margin = margin
        self._clock = clock
        # One entry per credential of the provider's pool: bounded by the config.
        self._entries: dict[str, _Entry] = {}

    def _fresh(self, entry: _Entry) -> bool:
        return bool(entry.token) and self._clock() < entry.expires

    async def get(self, credential: str) -> str:
        entry = self._entries.get(credential)
        if entry is None:
            entry = self._entries[credential] = _Entry(lock=asyncio.Lock())
        if self._fresh(entry):
            return entry.token
        assert entry.lock is not None
        seen = entry.finished
        async with entry.lock:
            if self._fresh(entry):  # another request refreshed it while this one waited
                return entry.token
            if entry.finished != seen and entry.failure is not None:
                # A fetch failed while this request waited: share its failure rather than
                # queue one more (a hung endpoint would hold the n-th waiter n timeouts).
                raise UpstreamUnavailable(entry.failure)
            entry.failure = None
            try:
                token, lifetime = await self._fetch(credential)
            except TokenError as exc:
                entry.failure = f"provider {self._provider}: no access token ({exc})"
                raise UpstreamUnavailable(entry.failure) from None
            finally:
                entry.finished += 1
            if not isinstance(token, str) or _TOKEN.fullmatch(token) is None:
                entry.failure = (
                    f"provider {self._provider}: the token endpoint answered no usable token"
                )
                raise UpstreamUnavailable(entry.failure)
            if not isinstance(lifetime, int | float) or not math.isfinite(lifetime):
                lifetime = DEFAULT_LIFETIME
            lifetime = max(lifetime, MIN_LIFETIME)
            # Refresh ahead of expiry, but never sooner than half the token's life.
            entry.token = token
            entry.expires = self._clock() + max(lifetime - self._margin, lifetime / 2)
            return token

    def drop(self, credential: str) -> None:
        """Forget a token the upstream refused (a 401): the next request fetches a new one."""
        entry = self._entries.get(credential)
        if entry is not None:
            entry.token, entry.expires = "", 0.0


__all__ = ["Fetch", "TokenCache", "TokenError"]
