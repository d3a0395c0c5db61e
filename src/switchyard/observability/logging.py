"""Structured JSON logs, and the per-request log line written off the request path.

Formatting and writing a log line costs more than forwarding a small request, so the request
path only appends a tuple to a bounded deque; a background task formats and writes batches.
When the deque is full the oldest lines are dropped and counted rather than slowing requests.
Keys never reach these lines: only ids, names, numbers and reasons are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson
import structlog

from switchyard.types import Call

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def configure_logging(level: str = "info") -> None:
    """JSON lines on stdout through structlog, orjson-serialised."""
    numeric = _LEVELS.get(level, 20)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.BytesLoggerFactory(file=sys.stdout.buffer),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(message)s")


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


class RequestLog:
    """One line per finished request, written in batches by a background task."""

    def __init__(self, enabled: bool = True, capacity: int = 100_000) -> None:
        self.enabled = enabled
        self._lines: deque[tuple[Any, ...]] = deque(maxlen=capacity)
        self._capacity = capacity
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._log = get_logger("switchyard.request")
        self._sink: BinaryIO = sys.stdout.buffer

    def record(self, call: Call, latency: float) -> None:
        if not self.enabled:
            return
        if len(self._lines) == self._capacity:
            self.dropped += 1
        self._lines.append((call, latency))

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
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

    def flush(self) -> None:
        """Write every pending line in one ``write``.

        Request lines bypass structlog's processor chain (the same JSON shape, one timestamp
        per batch): at thousands of requests per second the chain alone would cost a visible
        share of a core.
        """
        lines = self._lines
        if not lines:
            return
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        out = []
        dumps = orjson.dumps
        while lines:
            call, latency = lines.popleft()
            usage = call.usage
            out.append(
                dumps(
                    {
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
                        "latency_ms": round(latency * 1000, 3),
                        "ttft_ms": None if call.ttft is None else round(call.ttft * 1000, 3),
                        "input_tokens": usage.input_tokens if usage else None,
                        "output_tokens": usage.output_tokens if usage else None,
                        "error": call.error,
                    }
                )
            )
        out.append(b"")
        try:
            self._sink.write(b"\n".join(out))
            self._sink.flush()
        except (OSError, ValueError):  # stdout closed or full: never fail a request for a log
            pass
        if self.dropped:
            self._log.warning("request log lines dropped", count=self.dropped)
            self.dropped = 0
