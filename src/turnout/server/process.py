"""What the gateway hooks into its process: the drain signal and the server's error log."""

from __future__ import annotations

import logging
import signal
from typing import Any

from turnout.api.io import StreamAborted
from turnout.state import GatewayState


class HideStreamAborts(logging.Filter):
    """A deliberate mid-stream abort is not an application crash; keep it out of error logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, StreamAborted)


def watch_for_drain(state: GatewayState) -> None:
    """Flip readiness the instant SIGTERM/SIGINT arrives, then let the server's own handler
    stop accepting and drain (it was installed before the lifespan started)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            state.draining = True
            previous(signum, frame)

        signal.signal(sig, handler)
