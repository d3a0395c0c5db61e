"""The cache on Redis, shared by every replica.

Entries are stored encoded (:mod:`turnout.cache.entry`) under
``<prefix><model, percent-encoded>:<digest>`` with a TTL (``SET .. PX``), so Redis expires them
itself, and purging one model or one key is a ``SCAN MATCH`` away (admin only, never on the
request path).

A cache must never turn a Redis problem into a failed request. Every call is bounded by
``redis_timeout`` (connect and read), redis-py's own retries are off, and the first failure
opens the gateway's circuit breaker (:class:`~turnout.health.breaker.Circuit`): for
``redis_retry_after`` seconds the store answers "unavailable" at once without touching the
network, then one call tries again (and closes the circuit if it works). The gateway serves
uncached meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from urllib.parse import quote

from turnout.cache.entry import CorruptEntry, Entry, decode, encode
from turnout.cache.keys import CacheKey
from turnout.cache.store import StoreUnavailable, StoreUsage
from turnout.health.breaker import ACTIVE, BreakerPolicy, Circuit
from turnout.observability.logging import get_logger
from turnout.redisconn import FAILURES, Ready, connect

log = get_logger("turnout.cache")
_FAILURES = FAILURES
_SCAN_COUNT = 1000


class RedisStore:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        timeout: float,
        retry_after: float,
        max_item_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.timeout = timeout
        self.retry_after = retry_after
        self.max_item_bytes = max_item_bytes
        self._clock = clock
        # Opens on the first failure, for retry_after each time (no growing backoff).
        policy = BreakerPolicy(cooldown=retry_after, max_cooldown=retry_after)
        self.circuit = Circuit("cache-redis", policy)
        self.failures = 0
        self.client = connect(url, timeout=timeout)
        self.ready = Ready(self.client)

    def name_for(self, key: CacheKey) -> str:
        return f"{self.prefix}{quote(key.model, safe='')}:{key.digest}"

    @property
    def available(self) -> bool:
        return self.circuit.until <= self._clock()

    def _check(self) -> None:
        circuit = self.circuit
        if circuit.state != ACTIVE:  # closed: one comparison, no clock read
            if not circuit.usable(self._clock()):
                raise StoreUnavailable("redis circuit open")
            circuit.begin()

    def _trip(self, exc: BaseException) -> StoreUnavailable:
        self.ready.reset()
        was_closed = self.circuit.state == ACTIVE
        self.circuit.eject(self._clock(), "unavailable")
        self.failures += 1
        if was_closed:
            log.warning(
                "cache redis unavailable; serving uncached",
                error=f"{type(exc).__name__}: {exc}",
                retry_after=self.retry_after,
            )
        return StoreUnavailable(str(exc) or type(exc).__name__)

    def _recovered(self) -> None:
        circuit = self.circuit
        if circuit.state != ACTIVE:  # any answer proves Redis is back
            circuit.reset(self._clock())
            log.info("cache redis reachable again")

    async def get(self, key: CacheKey) -> Entry | None:
        self._check()
        try:
            async with asyncio.timeout(self.timeout * 2):
                await self.ready()
                raw = await self.client.get(self.name_for(key))
        except _FAILURES as exc:
            raise self._trip(exc) from None
        except BaseException:  # cancelled: no verdict on Redis
            self.circuit.abandon()
            raise
        self._recovered()
        if not isinstance(raw, bytes):  # None: no entry (the client never decodes to str)
            return None
        try:
            return decode(raw)
        except CorruptEntry:
            return None

    async def put_many(self, items: list[tuple[CacheKey, Entry, float]]) -> None:
        self._check()  # before encoding: an open circuit costs nothing
        try:
            pipe = self.client.pipeline(transaction=False)
            count = 0
            for key, entry, ttl in items:
                if entry.payload_size > self.max_item_bytes:
                    continue
                pipe.set(self.name_for(key), encode(entry), px=max(1, int(ttl * 1000)))
                count += 1
            if not count:
                self.circuit.abandon()
                return
            async with asyncio.timeout(self.timeout * 4):
                await self.ready()
                await pipe.execute()
        except _FAILURES as exc:
            raise self._trip(exc) from None
        except BaseException:  # cancelled (or a bug): no verdict on Redis
            self.circuit.abandon()
            raise
        self._recovered()

    def _pattern(self, model: str | None, digest: str | None) -> str:
        model_part = "*" if model is None else quote(model, safe="")
        return f"{_escape(self.prefix)}{model_part}:{digest or '*'}"

    async def purge(self, model: str | None = None, digest: str | None = None) -> int:
        """Admin only: may take longer than a request would (one SCAN over the keyspace)."""
        try:
            await self.ready()
            deleted = 0
            batch: list[bytes] = []
            async for name in self.client.scan_iter(
                match=self._pattern(model, digest), count=_SCAN_COUNT
            ):
                batch.append(name)
                if len(batch) >= _SCAN_COUNT:
                    deleted += await self.client.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += await self.client.unlink(*batch)
        except _FAILURES as exc:
            raise self._trip(exc) from None
        self._recovered()
        return deleted

    async def usage(self) -> StoreUsage:
        if not self.available:
            return StoreUsage(0, 0, available=False, failures=self.failures)
        entries = size = 0
        try:
            await self.ready()
            batch: list[bytes] = []
            async for name in self.client.scan_iter(
                match=self._pattern(None, None), count=_SCAN_COUNT
            ):
                batch.append(name)
                if len(batch) >= _SCAN_COUNT:
                    size += await self._strlen(batch)
                    entries += len(batch)
                    batch.clear()
            if batch:
                size += await self._strlen(batch)
                entries += len(batch)
        except _FAILURES as exc:
            self._trip(exc)
            return StoreUsage(0, 0, available=False, failures=self.failures)
        return StoreUsage(entries, size, failures=self.failures)

    async def _strlen(self, names: list[bytes]) -> int:
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.strlen(name)
        return sum(int(n) for n in await pipe.execute())

    async def close(self) -> None:
        with contextlib.suppress(*_FAILURES):
            await self.client.aclose()


def _escape(text: str) -> str:
    """Escape SCAN glob characters in a literal (the prefix is configured by operators)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
