"""One request-log row: its columns, how a finished call becomes one, and its spool encoding.

Rows are plain tuples in :data:`COLUMNS` order from the moment they are built until they reach
the database: the writer hands them to ``COPY`` or ``executemany`` as they are, and the spool
stores them as JSON arrays. Every row gets its own random ``id`` when it is built, which is
what makes a replay idempotent: a batch that reached the database but whose acknowledgement
was lost is spooled again, and its second insert is ignored row by row.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime
from typing import Any

import orjson

COLUMNS: tuple[str, ...] = (
    "ts",
    "id",
    "request_id",
    "gateway_key",
    "team",
    "protocol",
    "operation",
    "model",
    "provider",
    "deployment",
    "key_id",
    "attempts",
    "attempt_log",
    "status",
    "error",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost",
    "stream",
    "cache_hit",
    "fallback",
    "guardrails",
    # Calls that carry no tokens (A2A agents, MCP tools): the agent's task, and the bytes of
    # the request and the answer as the gateway relayed them; NULL for model calls.
    "task_id",
    "bytes_in",
    "bytes_out",
    # Only on the row of an A2A task's state change (operation ``task.state``): the state the
    # task moved to (``working``, ``completed``...). Such rows are not calls: usage and the
    # rollups leave them out.
    "task_state",
)
# Spooled rows written before a column existed are shorter: they replay with NULLs there
# (before guardrails, before task_id/bytes_in/bytes_out, before task_state).
_OLDER = {len(COLUMNS) - 5, len(COLUMNS) - 4, len(COLUMNS) - 1}
INDEX = {name: i for i, name in enumerate(COLUMNS)}
TS, ID = INDEX["ts"], INDEX["id"]

Row = tuple[Any, ...]


_prefix = os.urandom(6).hex()
_counter = itertools.count()


def _new_prefix() -> None:
    global _prefix
    _prefix = os.urandom(6).hex()


# A forked child must not share its parent's prefix; checking the pid per row instead would
# be a system call per row (getpid is not cached by the C library).
os.register_at_fork(after_in_child=_new_prefix)


def new_id() -> str:
    """Unique per row: a random prefix per process and a counter (a quarter of the cost of
    fresh random bytes per row, and the key only needs to be unique within one ``ts``)."""
    return f"{_prefix}{next(_counter):x}"


def as_dict(row: Row) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row, strict=True))
    log = out["attempt_log"]
    out["attempt_log"] = orjson.loads(log) if log else None
    decided = out["guardrails"]
    out["guardrails"] = orjson.loads(decided) if decided else None
    return out


def encode(rows: list[Row]) -> bytes:
    """Spool lines: one JSON array per row (orjson writes datetimes as ISO 8601)."""
    dumps = orjson.dumps
    return b"".join(dumps(row) + b"\n" for row in rows)


def decode(line: bytes) -> Row | None:
    """A spooled row, or None for a line a crash cut short."""
    try:
        values = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(values, list) and len(values) in _OLDER:
        values.extend([None] * (len(COLUMNS) - len(values)))
    if not isinstance(values, list) or len(values) != len(COLUMNS):
        return None
    values[TS] = datetime.fromisoformat(values[TS]).astimezone(UTC)
    return tuple(values)
