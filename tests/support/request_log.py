"""Reading a gateway process's request log (one JSON line per request on its stdout).

Tests check what a request did (``attempts``, ``deployment``, ``status``, ``error``) from the
line the gateway wrote for it instead of timing it: the line is the gateway's own account, and
it does not depend on how busy the machine is.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support.procs import Proc


def request_line(gw: Proc, request_id: str, within: float = 10.0) -> dict[str, Any]:
    """The request line of ``request_id``. The log drain writes lines in batches just after
    the answer, so this waits for it (``within`` is a deadline, not a wait)."""
    needle = f'"request_id":"{request_id}"'
    deadline = time.monotonic() + within
    while True:
        for raw in gw.output().splitlines():
            if raw.startswith("{") and needle in raw:
                line: dict[str, Any] = json.loads(raw)
                if line.get("event") == "request":
                    return line
        assert time.monotonic() < deadline, f"no request line for {request_id}"
        time.sleep(0.02)
