"""Turns finished calls into request-log rows for the writer (runs in the log drain)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from switchyard.storage.rows import Row, new_id
from switchyard.storage.writer import LogWriter

if TYPE_CHECKING:
    from switchyard.observability.finish import Finished


def _clean(text: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; a client can put one in a model name.
    if text is not None and "\x00" in text:
        return text.replace("\x00", "")
    return text


def to_row(done: Finished) -> Row:
    call = done.call
    usage = done.usage
    attempts = done.attempts
    log = None
    if len(attempts) > 1 or (attempts and attempts[0].reason is not None):
        log = orjson.dumps(
            [
                {
                    "deployment": a.deployment,
                    "key": a.key_id or None,
                    "status": a.status,
                    "reason": a.reason,
                    "ms": round((a.ended - a.started) * 1000, 3),
                }
                for a in attempts
            ]
        ).decode()
    extra = call.extra
    return (
        done.ts,
        new_id(),
        call.request_id,
        extra.get("gateway_key_id"),
        extra.get("team"),
        call.protocol,
        call.operation,
        _clean(call.model),
        done.provider,
        _clean(call.deployment),
        done.key_id,
        call.attempts,
        log,
        call.status,
        call.error,
        round(done.latency * 1000, 3),
        None if call.ttft is None else round(call.ttft * 1000, 3),
        None if usage is None else usage.input_tokens,
        None if usage is None else usage.output_tokens,
        None if usage is None else usage.cached_tokens,
        None if usage is None else usage.reasoning_tokens,
        done.cost,
        call.stream,
        done.cache_hit,
        extra.get("fallback"),
    )


class RowSink:
    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer

    def observe(self, finished: list[Finished]) -> None:
        self.writer.put_many([to_row(d) for d in finished])
