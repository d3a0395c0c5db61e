"""Request capture: every request and response written to a JSON file, for debugging.

Off by default (``capture.enabled``). A pipeline step, first in the chain so it sees cache hits
and errors too: it notes the client's request, then the response body or every stream chunk
with its time since the request arrived, and hands the finished record to a background task
that writes one file per request (``<UTC time>_<request id>.json``, compact JSON) and keeps
the directory within its limits (age, file count, total size: checked every 30 s, every 200
files and whenever a quarter of ``max_total_mb`` has been written since the last check).
Records wait in a bounded queue; when the writer cannot keep up, captures are dropped (and
counted) rather than requests slowed.

Secrets never reach a file: credential headers (by name, a name with a secret word such as
``token`` or ``auth`` in it, or an ``Authorization``-shaped value) and the ``key`` query
parameter are replaced,
then every configured provider key and anything shaped like an API key is replaced in the
serialised record.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from turnout.config.observability import CaptureConfig
from turnout.errors import GatewayError
from turnout.observability.slog import structlog
from turnout.types import Call, Handler, Reply

log = structlog.get_logger("turnout.capture")
REDACTED = "[redacted]"
SECRET_HEADERS = frozenset(
    {
        b"authorization",
        b"proxy-authorization",
        b"x-api-key",
        b"x-goog-api-key",
        b"api-key",
        b"cookie",
        b"set-cookie",
    }
)
# Any other header whose name has one of these words (split at ``-`` and ``_``) carries a
# credential by its name: ``x-auth-token``, ``x-mcp-{server}-authorization`` (MCP passthrough),
# ``x-amz-security-token``, ``x-my-secret``, an operator's ``forward_headers`` entry. Counts
# (``x-ratelimit-remaining-tokens``) are not among them.
_SECRET_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "apikey",
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "cookie",
        "session",
        "credential",
        "credentials",
        "signature",
        "jwt",
    }
)
# Names with a secret word that name no secret (kept for debugging).
_PLAIN_HEADERS = frozenset({b"idempotency-key", b"x-turnout-cache-key"})
# A value in an HTTP authentication scheme's shape is a credential whatever its header's name.
_AUTH_VALUE = re.compile(rb"\s*(bearer|basic|token|digest|negotiate|aws4-hmac-sha256)\s", re.I)
# Shapes of provider and gateway keys (OpenAI/Anthropic sk-..., Google AIza...).
KEY_SHAPES = re.compile(rb"sk-[A-Za-z0-9_\-]{12,}|AIza[0-9A-Za-z_\-]{20,}")
QUEUE_MAX = 1000
QUEUE_BYTES = 64 * 1024 * 1024  # bodies waiting for the writer; one record always fits
FRAME_BYTES = 32  # a stream chunk's frame in the file besides its data: {"t_ms":…,"data":…}
CLEAN_EVERY = 30.0


def secret_header(name: bytes, value: bytes) -> bool:
    """Whether a header carries a credential: by its name (a known credential header, or a
    name with a secret word in it) or by its value (``Bearer …``, ``Basic …``)."""
    name = name.lower()
    if name in SECRET_HEADERS:
        return True
    if name not in _PLAIN_HEADERS and _secret_name(name):
        return True
    return _AUTH_VALUE.match(value) is not None


def _secret_name(name: bytes) -> bool:
    words = name.lower().replace(b"_", b"-").split(b"-")
    return any(w.decode("latin-1") in _SECRET_WORDS for w in words)


def redact_query(query: bytes) -> str:
    """The query string with the value of every parameter whose name has a secret word in it
    (``key=`` of Gemini, ``api_key=``, ``access_token=``) replaced by ``[redacted]``."""
    parts = []
    for part in query.split(b"&"):
        name, eq, _ = part.partition(b"=")
        if eq and _secret_name(unquote_to_bytes(name)):
            part = name + b"=" + REDACTED.encode()
        parts.append(part)
    return b"&".join(parts).decode("latin-1")


def redact_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Headers as a capture file records them (the client's and the reply's), each one that
    carries a credential replaced by ``[redacted]``."""
    return {
        k.decode("latin-1"): REDACTED if secret_header(k, v) else v.decode("latin-1")
        for k, v in headers
    }


def _body(raw: bytes, limit: int) -> tuple[Any, bool]:
    """The body as JSON when it parses (and fits), else as text; and whether it was cut."""
    if len(raw) > limit:
        return raw[:limit].decode("utf-8", "replace"), True
    try:
        return orjson.loads(raw), False
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace"), False


def _pending_bytes(record: dict[str, Any]) -> int:
    """The bytes a record holds in bodies and stream chunks, while it waits."""
    size = len(record["request"]["body"])
    response = record.get("response") or {}
    body = response.get("body")
    if isinstance(body, bytes):
        size += len(body)
    return size + sum(len(f["data"]) for f in response.get("chunks") or ())


def _settle(record: dict[str, Any], limit: int) -> None:
    """The bodies kept as bytes, read as JSON (or text) and marked when cut: in the writer's
    thread, just before the record is written."""
    for part in (record["request"], record.get("response") or {}):
        raw = part.get("body")
        if isinstance(raw, bytes):
            part["body"], part["truncated"] = _body(raw, limit)


class Capture:
    def __init__(self, config: CaptureConfig, secrets: Iterable[str]) -> None:
        self.config = config
        self.dir = Path(config.dir)
        self._globs = tuple(config.models)
        self._secrets: list[bytes] = []
        self.add_secrets(secrets)
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.dropped = 0
        self._unclean = 0  # bytes written since the last clean
        self._queued_bytes = 0  # bodies and chunks of the records waiting in the queue

    def wanted(self, call: Call) -> bool:
        return not self._globs or any(fnmatch.fnmatchcase(call.model, g) for g in self._globs)

    async def step(self, call: Call, next: Handler) -> Reply:
        if not self.wanted(call):
            return await next(call)
        record = self._request(call)
        try:
            reply = await next(call)
        except GatewayError as exc:
            record["response"] = {"status": exc.status, "error": exc.message}
            self._finish(record, call)
            raise
        response: dict[str, Any] = {
            "status": reply.status,
            "headers": redact_headers(reply.headers),
        }
        record["response"] = response
        if reply.chunks is None:
            response["body"] = reply.body[: self.config.max_body_bytes + 1]  # read when written
            self._finish(record, call)
            return reply
        reply.chunks = self._tap(record, response, call, reply.chunks)
        return reply

    def _request(self, call: Call) -> dict[str, Any]:
        # Kept as bytes (at most one past the limit, to tell a cut body) and read as JSON by the
        # writer's thread: parsed here, 1 MB of ``{"a":0},…`` held 24 MB of Python objects
        # for as long as the record waited in the queue, and took the event loop to parse.
        raw = (call.client_body or call.body)[: self.config.max_body_bytes + 1]
        return {
            "request_id": call.request_id,
            "time": datetime.now(UTC).isoformat(),
            "protocol": call.protocol,
            "operation": call.operation,
            "model": call.model,
            "stream": call.stream,
            "request": {
                "path": call.path,
                "query": redact_query(call.query),
                "headers": redact_headers(call.headers.items()),
                "body": raw,
            },
        }

    async def _tap(
        self,
        record: dict[str, Any],
        response: dict[str, Any],
        call: Call,
        chunks: AsyncIterator[bytes],
    ) -> AsyncIterator[bytes]:
        frames: list[dict[str, Any]] = []
        response["chunks"] = frames
        response["truncated"] = False
        room = self.config.max_body_bytes
        try:
            async for chunk in chunks:
                # A frame's own keys and time count too: a stream of tiny chunks must not
                # grow a file far past max_body_bytes.
                if room >= len(chunk) + FRAME_BYTES:
                    room -= len(chunk) + FRAME_BYTES
                    t = round((time.perf_counter() - call.started) * 1000, 3)
                    frames.append({"t_ms": t, "data": chunk.decode("utf-8", "replace")})
                else:
                    response["truncated"] = True
                yield chunk
        except GatewayError as exc:
            response["error"] = exc.message
            raise
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
            self._finish(record, call)

    def _finish(self, record: dict[str, Any], call: Call) -> None:
        record["duration_ms"] = round((time.perf_counter() - call.started) * 1000, 3)
        # Whose call it was: a client may choose its request id, so an id alone does not tell
        # two tenants' captures apart (the admin API reads them back by id and key).
        record["key_id"] = call.key_id
        record["deployment"] = call.deployment
        record["attempts"] = call.attempts
        record["error"] = call.error
        size = _pending_bytes(record)
        if len(self._queue) >= QUEUE_MAX or (
            self._queue and self._queued_bytes + size > QUEUE_BYTES
        ):
            self.dropped += 1
            return
        self._queued_bytes += size
        self._queue.append(record)
        self._wake.set()

    # -- the writer ---------------------------------------------------------------------------
    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Redact these too (keys of a reloaded config; old ones stay redacted)."""
        known = {*self._secrets, *(s.encode() for s in secrets if len(s) >= 4)}
        self._secrets = sorted(known, key=len, reverse=True)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self._write, self._take())

    async def _run(self) -> None:
        cleaned_at, written = 0.0, 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), CLEAN_EVERY)
            self._wake.clear()
            try:
                await asyncio.to_thread(self._write, self._take())
                if time.monotonic() - cleaned_at >= CLEAN_EVERY or self.written - written > 200:
                    cleaned_at, written = time.monotonic(), self.written
                    await asyncio.to_thread(self.clean)
            except Exception as exc:
                log.error("capture write failed", error=repr(exc)[:300])

    def _take(self) -> list[dict[str, Any]]:
        records = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        return records

    def redact(self, data: bytes) -> bytes:
        for secret in self._secrets:
            data = data.replace(secret, REDACTED.encode())
        return KEY_SHAPES.sub(REDACTED.encode(), data)

    def _write(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        # Prompts and answers in clear: readable by the gateway's user only (a directory the
        # operator made keeps its mode; its files are still 0600).
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for record in records:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            rid = re.sub(r"[^A-Za-z0-9_.-]", "_", str(record["request_id"]))[:64]
            # Compact: indented, a caller's deeply nested body (400 KB of ``[[[…[0,0,…]…]]]``
            # 100 levels deep) became a 42 MB file, two spaces a level on every line.
            _settle(record, self.config.max_body_bytes)
            data = self.redact(orjson.dumps(record))
            path = self.dir / f"{stamp}_{rid}.json"
            tmp = path.with_suffix(".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()  # a crash's leftover: O_EXCL below creates the file with 0600
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)  # readers never see half a file
            self.written += 1
            self._unclean += len(data)
            # The size limit is kept while writing, not only every 30 s or 200 files: a
            # burst of large captures must not fill the disk in between.
            if self._unclean >= self.config.max_total_mb * 1024 * 1024 / 4:
                self.clean()

    def clean(self) -> int:
        """Apply the age, count and size limits, oldest files first; returns files removed."""
        self._unclean = 0
        if not self.dir.is_dir():
            return 0
        files = []
        for path in self.dir.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):
                st = path.stat()
                files.append((st.st_mtime, st.st_size, path))
        files.sort()
        cfg = self.config
        horizon = time.time() - cfg.retention_hours * 3600
        total = sum(size for _, size, _ in files)
        limit = cfg.max_total_mb * 1024 * 1024
        removed = 0
        for mtime, size, path in files:
            if mtime >= horizon and len(files) - removed <= cfg.max_files and total <= limit:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size
            removed += 1
        return removed
