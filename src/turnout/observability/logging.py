"""Structured JSON logs, and the drain every finished request goes through.

Formatting and writing a log line costs more than forwarding a small request, so the request
path only appends ``(call, latency)`` to a bounded deque; a background task drains it every
50 ms. The drain turns each call into a :class:`~turnout.observability.finish.Finished`
(usage parsed, cost, attempts explained) once, writes the JSON line to stdout, and hands the
batch to the sinks: request-log rows for the database writer, metrics, spans. When the deque
is full the oldest entries are dropped and counted rather than slowing requests.
Keys never reach these lines: only ids, names, numbers and reasons are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
from collections import deque
from collections.abc import MutableMapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import orjson

from turnout.observability.slog import structlog
from turnout.types import Call
from turnout.units import ms3

if TYPE_CHECKING:
    from turnout.observability.finish import Finished, Finisher


class Sink(Protocol):
    """A consumer of finished calls, fed in batches by the drain (off the request path)."""

    def observe(self, finished: list[Finished]) -> None: ...


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
LEVELS: tuple[str, ...] = tuple(_LEVELS)


def use_console(fmt: str) -> bool:
    """``auto`` means lines for people on a terminal and JSON for everything else."""
    return fmt == "console" or (fmt == "auto" and sys.stdout.isatty())


# What a console line must not print as it is: C0 controls (newlines, ESC), DEL, C1 controls
# (CSI 0x9b, NEL 0x85), Unicode line and paragraph separators and bidi overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# The same but newline and tab, for the traceback a line ends with (multi-line by design).
_CONTROL_IN_TRACE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class _Literal:
    """A value the console renderer shows as a Python string literal (``'a\\x1bb'``): it
    prints a string without spaces or quotes as it is, and anything else by its ``repr``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return repr(self.text)


# Columns the console renderer prints with str(), never quoted.
_PLAIN_COLUMNS = frozenset({"event", "logger", "logger_name", "level", "timestamp"})


def escape_controls(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """Control characters in a console line's text written as escapes (``\\x1b``, ``\\n``).

    The console renderer prints the message and any value without spaces or quotes as it
    is, and a value can come from a client or an upstream (a refused URL's path, an agent's
    error, a message uvicorn logs): a newline in it starts a line that reads as the gateway's
    own, an ANSI escape recolours, moves the cursor over or erases lines on the operator's
    terminal. JSON lines need no such step (orjson escapes every control character)."""
    for key, value in event.items():
        if not isinstance(value, str):
            continue
        if key in ("exception", "stack"):  # a traceback: multi-line by design
            if _CONTROL_IN_TRACE.search(value) is not None:
                event[key] = _CONTROL_IN_TRACE.sub(_escape, value)
        elif _CONTROL.search(value) is not None:
            event[key] = _CONTROL.sub(_escape, value) if key in _PLAIN_COLUMNS else _Literal(value)
    return event


def _renderer(console: bool, out: _Stream) -> Any:
    if console:
        render = structlog.dev.ConsoleRenderer(colors=out.isatty())
        plain = structlog.processors.format_exc_info  # a traceback as text, to be escaped too

        def console_line(logger: Any, name: str, event: dict[str, Any]) -> str:
            return str(
                render(logger, name, escape_controls(logger, name, plain(logger, name, event)))
            )

        return console_line
    return structlog.processors.JSONRenderer(
        serializer=lambda obj, **_: orjson.dumps(obj, default=str).decode()
    )


class _Stream:
    """``sys.stdout`` or ``sys.stderr`` looked up at each write, not at configuration: a test
    runner (or a CLI runner) that swaps and closes them must not leave the loggers, which are
    configured once per process, writing to a closed file."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        return int(getattr(sys, self.name).write(text))

    def flush(self) -> None:
        getattr(sys, self.name).flush()

    def isatty(self) -> bool:
        return bool(getattr(sys, self.name).isatty())


def configure_logging(level: str = "info", fmt: str = "auto", stderr: bool = False) -> None:
    """One stream on stdout, in one format: the gateway's own events through structlog and
    every standard-library logger (uvicorn's, Alembic's) through the same renderer, so the
    start-up output is not a mix of coloured text and JSON. On a terminal (``fmt`` ``auto``)
    lines are rendered for people, warnings and errors in colour; otherwise as JSON lines."""
    numeric = _LEVELS.get(level, 20)
    out: Any = _Stream("stderr" if stderr else "stdout")
    renderer = _renderer(fmt == "console" if stderr else use_console(fmt), out)
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


# Finished calls drained at once when this many wait, or when no other request is in flight
# (else every 50 ms). Draining ~150 calls at a time (50 ms at 3k req/s) held the event loop
# ~2 ms: the c=1 p99 (docs/measurements.md); a slice of 16 still held the request after it
# ~0.3 ms at concurrency 1, where one call's drain fits the client's turn.
SLICE = 16
# Request lines are written to stdout once this many bytes wait, or at the 50 ms tick: one
# ``write`` per slice of 16 lines (docs/measurements.md, "What each part of the defaults costs").
LINE_BUFFER = 64 * 1024


class RequestLog:
    """Finished requests, drained in small batches: by a background task every 50 ms, or as
    soon as :data:`SLICE` calls wait.

    ``enabled`` controls the stdout line; :meth:`attach` adds the finisher and the sinks
    (storage, metrics, traces), and the drain runs whenever either is on. ``inflight`` counts
    requests between their arrival and :meth:`record` (the API layer increments it).
    """

    def __init__(
        self, enabled: bool = True, capacity: int = 100_000, console: bool = False
    ) -> None:
        self.enabled = enabled
        # On a terminal request lines are rendered like every other line (slower, but a
        # terminal is never the place for thousands of lines a second).
        self._console = (
            structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty()) if console else None
        )
        self._recording = enabled
        self._lines: deque[tuple[Any, ...]] = deque(maxlen=capacity)
        self._capacity = capacity
        self.dropped = 0
        self.inflight = 0
        self.finisher: Finisher | None = None
        self.sinks: list[Sink] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._soon = False  # a flush of a full slice is scheduled
        self._log = get_logger("turnout.request")
        self._sink: BinaryIO = sys.stdout.buffer
        self._held: list[bytes] = []  # rendered lines not yet written (< LINE_BUFFER bytes)
        self._held_bytes = 0
        self._second = -1  # the second _prefix formats
        self._prefix = ""
        # Holds back the rows of background responses until they are done (their usage
        # comes later: turnout.conversations.background); looked at only while it waits.
        self.hold: Any = None

    def attach(self, finisher: Finisher, sinks: Sequence[Sink]) -> None:
        self.finisher = finisher
        self.sinks = list(sinks)
        self._recording = self.enabled or bool(self.sinks)

    @property
    def recording(self) -> bool:
        """Whether recorded calls reach anything (the stdout line or a sink)."""
        return self._recording

    def record(self, call: Call, latency: float) -> None:
        self.inflight -= 1
        if not self._recording:
            return
        lines = self._lines
        if len(lines) == self._capacity:
            self.dropped += 1
        lines.append((call, latency))
        if (len(lines) >= SLICE or not self.inflight) and not self._soon and self._loop is not None:
            self._soon = True
            self._loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._soon = False
        self.flush(write=False)

    def start(self) -> None:
        if self._recording and self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run())

    async def stop(self) -> None:
        self._loop = None  # calls finishing from now on wait for the last flush
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            self.flush()

    def flush(self, write: bool = True) -> None:
        """Drain every pending entry: its stdout line, one batch per sink. The lines are
        written at once (``write``), else held until :data:`LINE_BUFFER` bytes wait (the
        drain of a full slice, between ticks).

        Request lines bypass structlog's processor chain (the same JSON shape, one timestamp
        per batch): at thousands of requests per second the chain alone would cost a visible
        share of a core.
        """
        lines = self._lines
        if not lines:
            if write and self._held:
                self._emit()
            return
        batch = list(lines)
        lines.clear()
        hold = self.hold
        if hold is not None and hold.waiting:
            batch = hold.take(batch)
            if not batch:
                return
        finisher = self.finisher
        finished: list[Finished] = []
        if finisher is not None:
            finisher.refresh_clock()
            finished = [finisher.finish(call, latency) for call, latency in batch]
        if self.enabled:
            self._render(batch, finished)
            if write or self._held_bytes >= LINE_BUFFER:
                self._emit()
        for sink in self.sinks:
            try:
                sink.observe(finished)
            except Exception as exc:  # one broken sink must not starve the others
                self._log.error("request sink failed", sink=type(sink).__name__, error=repr(exc))
        if self.dropped:
            self._log.warning("request log lines dropped", count=self.dropped)
            self.dropped = 0

    def _render(self, batch: list[tuple[Any, ...]], finished: list[Finished]) -> None:
        stamp = self._stamp(time.time())
        out = self._held
        size = 0
        dumps = orjson.dumps
        for i, (call, latency) in enumerate(batch):
            usage = call.usage
            line = {
                "event": "request",
                "level": "info",
                "timestamp": stamp,
                "request_id": call.request_id,
                "protocol": call.protocol,
                "operation": call.operation,
                "model": call.model,
                "deployment": call.deployment,
                "attempts": call.attempts,
                "status": call.status,
                "stream": call.stream,
                "latency_ms": ms3(latency),
                "ttft_ms": None if call.ttft is None else ms3(call.ttft),
                "input_tokens": usage.input_tokens if usage else None,
                "output_tokens": usage.output_tokens if usage else None,
                "error": call.error,
            }
            if finished:
                line["cost_usd"] = finished[i].cost
            if call.route is not None:  # a learned router's decision
                line["route"] = call.route
            if call.guardrails is not None:  # plugins' decisions: [plugin, rule, action]
                line["guardrails"] = call.guardrails
            text = (
                self._console(None, "info", escape_controls(None, "info", line)).encode()
                if self._console is not None
                else dumps(line)
            )
            out.append(text)
            size += len(text)
        self._held_bytes += size

    def _stamp(self, now: float) -> str:
        """The batch's ISO 8601 time (UTC, microseconds), its date and second formatted once
        per second: with one call per drain (an idle gateway) ``datetime.isoformat`` was
        ~2 µs of every call."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{int((now - second) * 1e6):06d}Z"

    def _emit(self) -> None:
        held = self._held
        self._held = []
        self._held_bytes = 0
        held.append(b"")
        try:
            self._sink.write(b"\n".join(held))
            self._sink.flush()
        except (OSError, ValueError):  # stdout closed or full: never fail a request for a log
            pass
