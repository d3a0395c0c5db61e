"""Turns finished calls into request-log rows for the writer (runs in the log drain)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from turnout.storage.rows import Row, new_id
from turnout.storage.writer import LogWriter

if TYPE_CHECKING:
    from turnout.observability.finish import Finished


def _clean(text: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; a client can put one in a model name.
    if text and "\x00" in text:
        return text.replace("\x00", "")
    return text


def to_row(done: Finished) -> Row:
    call = done.call
    log = _attempt_log(done) if done.failed or len(done.notes) > 1 else None
    usage = done.usage
    if usage is None:
        tokens: tuple[int | None, ...] = (None, None, None, None)
    else:
        tokens = (
            usage.input_tokens,
            usage.output_tokens,
            usage.cached_tokens,
            usage.reasoning_tokens,
        )
    ttft = call.ttft
    return (
        done.ts,
        new_id(),
        call.request_id,
        call.key_id,
        call.team,
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
        done.latency * 1000.0,
        None if ttft is None else ttft * 1000.0,
        *tokens,
        done.cost,
        call.stream,
        call.cache == "hit",
        call.fallback,
        orjson.dumps(call.guardrails).decode() if call.guardrails else None,
        _clean(call.task_id),
        call.bytes_in,
        call.bytes_out,
    )


def _attempt_log(done: Finished) -> str:
    return orjson.dumps(
        [
            {
                "deployment": a.deployment,
                "key": a.key_id or None,
                "status": a.status,
                "reason": a.reason,
                "ms": round((a.ended - a.started) * 1000, 3),
            }
            for a in done.attempts
        ]
    ).decode()


class RowSink:
    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer

    def observe(self, finished: list[Finished]) -> None:
        self.writer.put_many([to_row(d) for d in finished])
