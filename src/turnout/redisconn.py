"""Every Redis the gateway talks to (limits, cache) is named by one URL syntax and reached
through redis-py (hiredis parser) by :func:`connect`.

    redis://[[user]:password@]host[:port][/db][?options]            one server
    rediss://…                                                       the same over TLS
    redis+sentinel://[[user]:password@]host:port[,host:port…]/service[/db][?options]
    redis+cluster://[[user]:password@]host:port[,host:port…][?options]
    rediss+sentinel://…, rediss+cluster://…                          TLS to every node

Options (query string): ``ca_file``, ``cert_file``, ``key_file`` (PEM; TLS trust and client
certificate), ``verify`` (``false``: no certificate checks), ``sentinel_username`` and
``sentinel_password`` (when the sentinels have their own ACL; otherwise they get none),
``timeout`` (seconds per command; the caller's own by default), ``connect_timeout`` (seconds to
open a connection; the caller's, but at least 1) and ``max_connections`` (per server or node,
default 1024). Unknown options are refused (a typo must not silently weaken TLS). User and
password are percent-decoded.

Sentinel: the sentinels are asked for the current master of ``service`` on every new
connection, so a failover is followed. Cluster: the listed nodes are the seeds; the client
learns the slot map and follows ``MOVED``/``ASK``. A Lua script may only touch keys of one slot
there, which is why every key a limits script uses carries one hash tag
(:mod:`turnout.limits.redis`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

# Everything a Redis call can fail with (RedisClusterException is not a RedisError).
FAILURES = (RedisError, RedisClusterException, OSError, TimeoutError)

Client = Redis | RedisCluster

SCHEMES = {
    "redis": ("single", False),
    "rediss": ("single", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
}
_OPTIONS = frozenset(
    {
        "ca_file",
        "cert_file",
        "key_file",
        "verify",
        "sentinel_username",
        "sentinel_password",
        "connect_timeout",
        "timeout",
        "max_connections",
    }
)


@dataclass(frozen=True, slots=True)
class RedisTarget:
    kind: str  # single | sentinel | cluster
    tls: bool
    hosts: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    db: int = 0
    service: str | None = None  # sentinel: the monitored master's name
    options: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # passwords never reach a log line
        hosts = ",".join(f"{h}:{p}" for h, p in self.hosts)
        return f"RedisTarget({self.kind}, tls={self.tls}, {hosts}, db={self.db})"

    def describe(self) -> str:
        """Where it points, without credentials (for logs and admin output)."""
        hosts = ",".join(f"{h}:{p}" for h, p in self.hosts)
        tail = f"/{self.service}" if self.service else ""
        return f"{self.kind}{' (TLS)' if self.tls else ''} {hosts}{tail} db {self.db}"


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError(_UNREADABLE)
    return int(text)


# The pieces of a URL that does not parse may be pieces of its password (one with an
# unescaped "/", "?" or "#" ends the host part early): errors never quote them.
_UNREADABLE = (
    "cannot read the host list (a host or port is invalid; "
    "percent-encode '/', '?', '#' and '@' in a password)"
)


def _hosts(netloc: str) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for part in netloc.split(","):
        part = part.strip()
        if not part:
            raise ValueError("empty host in the host list")
        if part.startswith("["):
            host, _, rest = part[1:].partition("]")
            port = _port(rest[1:]) if rest.startswith(":") else 6379
        elif ":" in part:
            host, _, p = part.rpartition(":")
            port = _port(p)
        else:
            host, port = part, 6379
        if not host or not 0 < port < 65536:
            raise ValueError(_UNREADABLE)
        out.append((host, port))
    return tuple(out)


def parse_redis_url(url: str) -> RedisTarget:
    """Raises ValueError naming what is wrong (without echoing a password)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ValueError(f"must start with one of {known}")
    kind, tls = SCHEMES[scheme.lower()]
    # urlsplit cannot read a host list: take the userinfo and the path off by hand.
    netloc, _, path_query = rest.partition("/")
    if "?" in netloc:
        netloc, _, query = netloc.partition("?")
        path_query = "?" + query
    username = password = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, colon, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if colon else None
        if not colon:  # redis://secret@host: the classic password-only form
            username, password = None, unquote(user)
    hosts = _hosts(netloc)
    parts = urlsplit("x:/" + path_query)
    segments = [s for s in parts.path.split("/") if s]
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        known = ", ".join(sorted(_OPTIONS))
        raise ValueError(f"unknown query option(s); the known ones: {known}")
    if not tls and any(k in options for k in ("ca_file", "cert_file", "key_file", "verify")):
        raise ValueError("TLS options need a rediss:// URL")
    service = None
    if kind == "sentinel":
        if not segments:
            raise ValueError("a sentinel URL names the service: redis+sentinel://host:port/service")
        service = unquote(segments.pop(0))
    elif len(hosts) > 1 and kind == "single":
        raise ValueError("several hosts: use redis+cluster:// or redis+sentinel://")
    db = 0
    if segments:
        if len(segments) > 1 or not segments[0].isdigit():
            raise ValueError(
                "the path must be a database number (percent-encode '/', '?', '#' and '@' in "
                "a password)"
            )
        db = int(segments[0])
    if kind == "cluster" and db != 0:
        raise ValueError("Redis Cluster has only database 0")
    for name in ("connect_timeout", "timeout"):
        if name in options:
            float(options[name])
    if "verify" in options and options["verify"].lower() not in ("true", "false", "1", "0"):
        raise ValueError("verify must be true or false")
    return RedisTarget(kind, tls, hosts, username, password, db, service, options)


def _tls_kwargs(target: RedisTarget) -> dict[str, Any]:
    if not target.tls:
        return {}
    o = target.options
    verify = o.get("verify", "true").lower() in ("true", "1")
    return {
        "ssl": True,
        "ssl_ca_certs": o.get("ca_file"),
        "ssl_certfile": o.get("cert_file"),
        "ssl_keyfile": o.get("key_file"),
        "ssl_cert_reqs": "required" if verify else "none",
        "ssl_check_hostname": verify,
    }


def connect(url: str | RedisTarget, *, timeout: float, decode_responses: bool = False) -> Client:
    """A client for ``url``. ``timeout`` bounds every reply (and, at least 1 s, every connect)
    unless the URL sets its own; redis-py's own retries are off (callers decide what a failure
    means)."""
    target = parse_redis_url(url) if isinstance(url, str) else url
    o = target.options
    common: dict[str, Any] = {
        "username": target.username,
        "password": target.password,
        "socket_timeout": float(o.get("timeout", timeout)),
        # Opening a connection (a TLS handshake, a Sentinel lookup) takes longer than one
        # command: at least a second unless the URL says otherwise.
        "socket_connect_timeout": float(o.get("connect_timeout", max(timeout, 1.0))),
        "decode_responses": decode_responses,
        **_tls_kwargs(target),
    }
    limit = int(o.get("max_connections", 0)) or None
    if target.kind == "cluster":
        tls = common.pop("ssl", False)
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in target.hosts],
            ssl=tls,
            retry=Retry(NoBackoff(), 0),
            max_connections=limit or 1024,  # per node
            **common,
        )
    common.update(retry=Retry(NoBackoff(), 0), health_check_interval=0)
    if target.kind == "sentinel":
        assert target.service is not None
        sentinel_kwargs: dict[str, Any] = {
            "socket_timeout": common["socket_timeout"],
            "socket_connect_timeout": common["socket_connect_timeout"],
            "username": o.get("sentinel_username"),
            "password": o.get("sentinel_password"),
            **_tls_kwargs(target),
        }
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.hosts), sentinel_kwargs=sentinel_kwargs, **common
        )
        client: Redis = sentinel.master_for(
            target.service, redis_class=Redis, db=target.db, max_connections=limit or 1024
        )
        return client
    host, port = target.hosts[0]
    return Redis(host=host, port=port, db=target.db, max_connections=limit or 1024, **common)


class Ready:
    """Connects a cluster client once, before the commands that need it.

    redis-py's cluster client learns the slot map lazily on its first command, and after a
    connection failure on the next one; concurrent first commands then race each other's
    initialisation and close each other's connections ("Connection closed by server"). The
    gate makes one caller initialise while the others wait. ``reset()`` after a failure.
    A single-server or Sentinel client needs nothing: the gate is open from the start.
    """

    __slots__ = ("_lock", "client", "done")

    def __init__(self, client: Client) -> None:
        self.client = client
        self.done = not isinstance(client, RedisCluster)
        self._lock: asyncio.Lock | None = None

    async def __call__(self) -> None:
        if self.done:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.done:
                assert isinstance(self.client, RedisCluster)
                await self.client.initialize()
                self.done = True

    def reset(self) -> None:
        if isinstance(self.client, RedisCluster):
            self.done = False


_Item = tuple[str, str, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class AutoPipeline:
    """Scripts called in one event-loop iteration leave together, as one pipeline.

    redis-py sends each command on a connection of its own and waits for it; with 64 calls in
    flight that is 64 writes, 64 reads and their wake-ups per batch, about 95 µs of CPU per
    ``EVALSHA`` on the project machine. Collected into one pipeline (one write per node, replies
    read in order) the same calls cost about 19-25 µs each (``bench/limits_redis_bench.py``).
    A script the server does not know (``NOSCRIPT``: a restarted or failed-over node) is loaded
    and its calls sent again. A failure of the whole batch fails every call in it.
    """

    def __init__(self, client: Client, ready: Ready) -> None:
        self.client = client
        self.ready = ready
        self._pending: list[_Item] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def evalsha(
        self, script: str, sha: str, keys: Sequence[Any], args: Sequence[Any]
    ) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((script, sha, keys, args, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Item]) -> list[Any]:
        if len(batch) == 1:  # alone in its iteration: a plain command is cheaper than a pipeline
            _, sha, keys, args, _ = batch[0]
            try:
                return [await self.client.execute_command("EVALSHA", sha, len(keys), *keys, *args)]
            except NoScriptError as exc:
                return [exc]
        pipe = self.client.pipeline(transaction=False)
        for _, sha, keys, args, _ in batch:
            # execute_command: the cluster pipeline refuses its evalsha() method, but routes
            # EVALSHA by its keys (one slot per call, see turnout.limits.redis) when sent raw.
            pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))

    async def _send(self, batch: list[_Item]) -> None:
        try:
            await self.ready()
            results = await self._run(batch)
            missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
            if missing:
                for source in {batch[i][0] for i in missing}:
                    await self.client.script_load(source)
                again = await self._run([batch[i] for i in missing])
                for i, result in zip(missing, again, strict=True):
                    results[i] = result
        except Exception as exc:
            for *_, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (*_, fut), result in zip(batch, results, strict=True):
            if fut.done():  # the caller gave up (cancelled)
                continue
            if isinstance(result, Exception):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    async def sent(self) -> None:
        """Once every batch called so far has had its answer (or failed)."""
        await asyncio.sleep(0)  # a batch of this iteration leaves first
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
