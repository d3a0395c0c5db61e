"""The cache as a pipeline step, plus the worker that stores answers off the request path.

A request for a cached model costs, on a miss, one canonical serialization and one BLAKE2b
hash of its body (:mod:`turnout.cache.keys`) and one backend lookup; a request for a model
that is not cached costs one dict lookup, and when no model is cached the step is not in the
pipeline at all (:meth:`CacheService.create` returns None).

Storing never delays a reply. A JSON answer is queued as it leaves the step; a stream is
recorded while it is relayed and queued only once it has ended cleanly. One worker task drains
the queue in batches (a Redis pipeline per batch), validates each answer (complete, no error,
not too large: :func:`turnout.cache.record.build_entry`) and stores it. The queue is
bounded: under overload answers go unstored, they are never waited for.

What is stored under a key is always the primary model's own answer: a call answered by a
fallback model (``call.fallback``, set by the router) is served but not stored, and so
are errors and anything but a 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Any

from turnout.cache.keys import CacheKey, is_admin, make_key, namespace, passed_headers
from turnout.cache.memory import MemoryStore
from turnout.cache.policy import REFRESH, SKIP, USE, CachePolicy, control
from turnout.cache.record import TOO_LARGE, Pending, Recorder, build_entry
from turnout.cache.replay import HEADER, KEY_HEADER, Unconvertible, reply_for, variant
from turnout.cache.store import CacheStore, StoreUnavailable
from turnout.config.compile import Runtime
from turnout.config.schema import CacheConfig
from turnout.observability.logging import get_logger
from turnout.types import Call, Handler, Reply

log = get_logger("turnout.cache")
QUEUE_MAX = 10_000
BATCH = 64


@dataclass(slots=True)
class Counters:
    """This process's view (hits on other replicas are counted there)."""

    hits: int = 0
    misses: int = 0
    refreshes: int = 0
    bypasses: int = 0
    unavailable: int = 0  # lookups the backend could not answer (served uncached)
    unconvertible: int = 0  # stored answers that could not be served in the asked form
    stored: int = 0
    not_stored: Counter[str] = field(default_factory=Counter)


def build_store(cfg: CacheConfig) -> CacheStore:
    if cfg.backend == "redis":
        from turnout.cache.redis_store import RedisStore  # redis-py only when configured

        return RedisStore(
            cfg.redis_url,
            prefix=cfg.key_prefix,
            timeout=cfg.redis_timeout,
            retry_after=cfg.redis_retry_after,
            max_item_bytes=cfg.max_item_bytes,
        )
    return MemoryStore(cfg.max_bytes, cfg.max_item_bytes)


class CacheService:
    def __init__(self, runtime: Runtime, store: CacheStore | None = None) -> None:
        cfg = runtime.config.cache
        self.config = cfg
        self.policy = CachePolicy(runtime)
        self.passed = passed_headers(runtime)
        self.store = store if store is not None else build_store(cfg)
        self.counters = Counters()
        self._space = cfg.namespace
        self._limit = cfg.max_item_bytes
        self._queue: deque[Pending] = deque()
        self._storing = 0  # answers taken off the queue, not yet stored or refused
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def use(self, runtime: Runtime) -> None:
        """Which models are cached, for how long, and which client headers reach a provider,
        by a reloaded config."""
        self.policy = CachePolicy(runtime)
        self.passed = passed_headers(runtime)

    @classmethod
    def create(cls, runtime: Runtime, store: CacheStore | None = None) -> CacheService | None:
        """The service, or None when no model is cached (then nothing is added to the path)."""
        if not CachePolicy(runtime).enabled:
            return None
        return cls(runtime, store)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, grace: float = 2.0) -> None:
        """Store what is queued (for at most ``grace`` seconds), then close the backend."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self.flush()
        await self.store.close()

    # -- the pipeline step -------------------------------------------------------------------
    async def step(self, call: Call, next: Handler) -> Reply:
        ttl = self.policy.ttl(call.model)
        if ttl is None:
            return await next(call)
        mode = control(call.headers)
        if mode == SKIP:
            call.cache = "bypass"
            self.counters.bypasses += 1
            reply = await next(call)
            reply.headers.append((HEADER, b"bypass"))
            return reply
        key = make_key(call, namespace(call, self._space), self.passed)
        if key is None:
            return await next(call)
        state = b"miss"
        if mode == USE:
            state, hit = await self._lookup(call, key)
            if hit is not None:
                return hit
        else:
            self.counters.refreshes += 1
        call.cache = "refresh" if mode == REFRESH else state.decode()
        reply = await next(call)
        reply.headers.append((HEADER, state))
        if is_admin(call):  # a tenant learns nothing from another's keys
            reply.headers.append((KEY_HEADER, key.digest.encode()))
        if reply.status == 200 and call.fallback is None:
            self._record(reply, call, key, ttl)
        return reply

    async def _lookup(self, call: Call, key: CacheKey) -> tuple[bytes, Reply | None]:
        """(header value, the hit's reply or None)."""
        try:
            entry = await self.store.get(key)
        except StoreUnavailable:
            self.counters.unavailable += 1
            return b"bypass", None
        if entry is not None:
            try:
                reply = reply_for(entry, call, key.digest if is_admin(call) else None)
            except Unconvertible as exc:
                self.counters.unconvertible += 1
                log.debug("cache entry not servable in this form", reason=str(exc))
            else:
                call.cache = "hit"
                # A copy: the memory backend hands every hit the same entry.
                call.usage = replace(entry.usage) if entry.usage is not None else None
                self.counters.hits += 1
                return b"hit", reply
        self.counters.misses += 1
        return b"miss", None

    def _record(self, reply: Reply, call: Call, key: CacheKey, ttl: float) -> None:
        form = variant(call)
        usage_chunk, sse = form.include_usage, form.sse
        if reply.chunks is None:
            self._enqueue(Pending(key, ttl, call, usage_chunk, sse, body=reply.body))
            return

        def done(frames: list[bytes] | None) -> None:
            if frames is None:
                self.counters.not_stored[TOO_LARGE] += 1
            else:
                self._enqueue(Pending(key, ttl, call, usage_chunk, sse, frames=frames))

        reply.chunks = Recorder(reply.chunks, self._limit, done)

    # -- storing -----------------------------------------------------------------------------
    def _enqueue(self, pending: Pending) -> None:
        if len(self._queue) >= QUEUE_MAX:
            self.counters.not_stored["queue_full"] += 1
            return
        self._queue.append(pending)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Store everything queued so far (the worker's loop; tests call it directly)."""
        queue = self._queue
        while queue:
            batch = [queue.popleft() for _ in range(min(BATCH, len(queue)))]
            self._storing = len(batch)
            try:
                await self._store(batch)
            finally:
                self._storing = 0
            await asyncio.sleep(0)  # requests go first between batches

    async def _store(self, batch: list[Pending]) -> None:
        items = []
        now = time.time()
        for pending in batch:
            try:
                result = build_entry(pending, now, self._limit)
            except Exception:  # a codec bug must not stop the worker
                log.exception("cache entry could not be built")
                result = "error"
            if isinstance(result, str):
                self.counters.not_stored[result] += 1
            else:
                items.append((pending.key, result, pending.ttl))
        if items:
            try:
                await self.store.put_many(items)
                self.counters.stored += len(items)
            except StoreUnavailable:
                self.counters.not_stored["unavailable"] += len(items)

    # -- admin -------------------------------------------------------------------------------
    async def purge(self, model: str | None = None, digest: str | None = None) -> int:
        return await self.store.purge(model=model, digest=digest)

    async def stats(self) -> dict[str, Any]:
        c = self.counters
        usage = await self.store.usage()
        lookups = c.hits + c.misses
        return {
            "enabled": True,
            "backend": self.store.name,
            "available": usage.available,
            "entries": usage.entries,
            "bytes": usage.bytes,
            "evictions": usage.evictions,
            "backend_failures": usage.failures,
            "hits": c.hits,
            "misses": c.misses,
            "hit_ratio": round(c.hits / lookups, 4) if lookups else None,
            "refreshes": c.refreshes,
            "bypasses": c.bypasses,
            "unavailable": c.unavailable,
            "unconvertible": c.unconvertible,
            "stored": c.stored,
            "not_stored": dict(c.not_stored),
            # Waiting or being written: 0 once every answer sent so far is stored or refused.
            "queued": len(self._queue) + self._storing,
        }
