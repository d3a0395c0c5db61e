"""The shared state on Redis: one hash of records, a version counter, a stream of pins (and one
key per pin, for a replica's first look at a client), a hash of latencies and one key per
lease.

Every key carries the hash tag ``{state}`` so they live in one slot of a Redis Cluster (a
pipeline and the lease scripts touch several). Readers poll the version counter (one ``GET``
per interval per replica) and read the whole record hash only when it moved; pins are read
from the stream after the last id seen, so each is read once per replica. The stream is
capped (``MAXLEN ~``) and pins carry their expiry, so neither grows without bound.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from turnout.redisconn import connect
from turnout.shared.port import LeaseInfo, Pin, Record

PIN_STREAM_MAX = 200_000
LATENCY_FRESH = 120.0  # seconds after which a replica's latency no longer counts

# Take or renew: only when free or already ours.
_ACQUIRE = """
local h = redis.call('GET', KEYS[1])
if h == false or h == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# A client's pin: the one there, else ARGV[1] for ARGV[2] ms. Returns {deployment, ms left}.
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if v then return {v, redis.call('PTTL', KEYS[1])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {ARGV[1], tonumber(ARGV[2])}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStateBackend:
    shared = True

    def __init__(self, url: str, prefix: str, timeout: float) -> None:
        self.client: Any = connect(url, timeout=timeout)
        base = self._base = f"{prefix}{{state}}:"
        self._records = base + "health"
        self._version = base + "version"
        self._pins = base + "pins"
        self._latency = base + "latency"
        self._lease = base + "lease:"
        self._seen_version: bytes | None = None
        self._pin_id = b"0"  # the first read takes every live pin
        self._acquire = self.client.register_script(_ACQUIRE)
        self._release = self.client.register_script(_RELEASE)
        self._claim = self.client.register_script(_CLAIM)

    def key(self, name: str) -> str:
        """A key of this backend (same prefix and Cluster slot as the others)."""
        return self._base + name

    async def publish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        fields = {f"{r['kind']}|{r['id']}": orjson.dumps(r) for r in records}
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self._records, mapping=fields)
        pipe.incr(self._version)
        await pipe.execute()

    async def changes(self) -> list[Record] | None:
        version = await self.client.get(self._version)
        if version == self._seen_version:
            return None
        raw: dict[bytes, bytes] = await self.client.hgetall(self._records)
        self._seen_version = version
        out: list[Record] = []
        for value in raw.values():
            try:
                record = orjson.loads(value)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    async def publish_pins(self, pins: Sequence[Pin]) -> None:
        if not pins:
            return
        pipe = self.client.pipeline(transaction=False)
        now = time.time()
        for p in pins:
            entry = {
                "m": p.model,
                "c": p.client,
                "d": p.deployment,
                "e": repr(p.expires),
                "o": p.origin,
            }
            pipe.xadd(self._pins, entry, maxlen=PIN_STREAM_MAX, approximate=True)
            ttl = int((p.expires - now) * 1000)
            if ttl > 0:  # what a replica that has not read the stream yet claims
                pipe.set(self._pin_key(p.model, p.client), p.deployment, px=ttl)
        await pipe.execute()

    def _pin_key(self, model: str, client: str) -> str:
        return f"{self._base}pin:{model}|{client}"

    async def claim_pin(
        self, model: str, client: str, deployment: str, ttl: float
    ) -> tuple[str, float]:
        key = self._pin_key(model, client)
        value, left = await self._claim(keys=[key], args=[deployment, max(1, int(ttl * 1000))])
        name = value.decode() if isinstance(value, bytes) else str(value)
        return name, max(0.0, int(left) / 1000)

    async def new_pins(self) -> list[Pin]:
        found = await self.client.xread({self._pins: self._pin_id}, count=10_000)
        out: list[Pin] = []
        now = time.time()
        for _stream, entries in found or []:
            for entry_id, fields in entries:
                self._pin_id = entry_id
                try:
                    pin = Pin(
                        fields[b"m"].decode(),
                        fields[b"c"].decode(),
                        fields[b"d"].decode(),
                        float(fields[b"e"]),
                        fields.get(b"o", b"").decode(),
                    )
                except (KeyError, ValueError, UnicodeDecodeError):
                    continue
                if pin.expires > now:
                    out.append(pin)
        return out

    async def publish_latency(self, origin: str, latencies: dict[str, tuple[float, int]]) -> None:
        if not latencies:
            return
        now = time.time()
        fields = {
            f"{dep}|{origin}": orjson.dumps([lat, n, now]) for dep, (lat, n) in latencies.items()
        }
        await self.client.hset(self._latency, mapping=fields)

    async def latencies(self) -> dict[str, list[tuple[float, int, float]]]:
        raw: dict[bytes, bytes] = await self.client.hgetall(self._latency)
        out: dict[str, list[tuple[float, int, float]]] = {}
        stale = time.time() - LATENCY_FRESH
        gone: list[bytes] = []
        for field, value in raw.items():
            try:
                lat, n, at = orjson.loads(value)
                dep = field.decode().rsplit("|", 1)[0]
            except (ValueError, TypeError, UnicodeDecodeError):
                continue
            if at < stale:
                gone.append(field)  # a replica that went away
                continue
            out.setdefault(dep, []).append((float(lat), int(n), float(at)))
        if gone:
            await self.client.hdel(self._latency, *gone)
        return out

    async def acquire(self, name: str, holder: str, ttl: float) -> bool:
        got = await self._acquire(keys=[self._lease + name], args=[holder, int(ttl * 1000)])
        return bool(got)

    async def release(self, name: str, holder: str) -> None:
        await self._release(keys=[self._lease + name], args=[holder])

    async def lease(self, name: str) -> LeaseInfo:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self._lease + name)
        pipe.pttl(self._lease + name)
        holder, ttl = await pipe.execute()
        if holder is None:
            return LeaseInfo(None, None)
        return LeaseInfo(holder.decode(), round(ttl / 1000, 3) if ttl and ttl > 0 else None)

    async def close(self) -> None:
        await self.client.aclose()
