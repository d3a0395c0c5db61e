"""Turns finished calls into request-log rows for the writer (runs in the log drain), and an
A2A task's state change into a row of its own (:func:`task_state_row`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import orjson

from turnout.storage.rows import Row, new_id
from turnout.storage.writer import LogWriter
from turnout.units import ms3

if TYPE_CHECKING:
    from turnout.observability.finish import Finished
    from turnout.types import Call

TASK_STATE = "task.state"  # the operation of a state change's row


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
        None,  # task_state: only state rows (task_state_row) have one
    )


def task_state_row(
    call: Call,
    task_id: str,
    state: str,
    ts: datetime,
    latency: float,
    size: int,
    error: str | None = None,
) -> Row:
    """The row of one task state change seen during ``call``: the call's caller, agent,
    request id and task, the state the task moved to, the seconds since the call began and
    the bytes of the event or answer that said so (``bytes_out``); ``error`` only says how
    many changes before it were not written (a2a/states.py). No tokens, no cost: a state
    change is not a call, and usage and the rollups leave such rows out."""
    return (
        ts,
        new_id(),
        call.request_id,
        call.key_id,
        call.team,
        call.protocol,
        TASK_STATE,
        _clean(call.model),
        call.deployment.split("/", 1)[0] if call.deployment else None,
        _clean(call.deployment),
        None,
        None,
        None,
        call.status,
        error,
        latency * 1000.0,
        None,
        None,
        None,
        None,
        None,
        None,
        call.stream,
        False,
        None,
        None,
        _clean(task_id),
        None,
        size,
        _clean(state),
    )


def _attempt_log(done: Finished) -> str:
    return orjson.dumps(
        [
            {
                "deployment": a.deployment,
                "key": a.key_id or None,
                "status": a.status,
                "reason": a.reason,
                "ms": ms3(a.ended - a.started),
            }
            for a in done.attempts
        ]
    ).decode()


class RowSink:
    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer

    def observe(self, finished: list[Finished]) -> None:
        self.writer.put_many([to_row(d) for d in finished])
