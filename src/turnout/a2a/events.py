"""What the gateway reads in an agent's answers: the task and its state, and whether a stream
has reached its end.

Both A2A versions the official SDK speaks are read: 1.0 wraps each stream event in a one-key
object (``task``, ``message``, ``statusUpdate``, ``artifactUpdate``) and spells states
``TASK_STATE_COMPLETED``; 0.3 tags objects with ``kind`` and spells states ``completed`` and
marks the last status update ``final``. Nothing here changes a byte of what is relayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

# States after which a stream ends: terminal, or waiting on the caller (interrupted).
FINAL_STATES = frozenset(
    ("completed", "failed", "canceled", "cancelled", "rejected", "input-required",
     "auth-required")
)  # fmt: skip


def state_name(raw: Any) -> str | None:
    """``TASK_STATE_INPUT_REQUIRED`` and ``input-required`` alike → ``input-required``."""
    if not isinstance(raw, str) or not raw or len(raw) > 64:
        return None
    s = raw.lower()
    if s.startswith("task_state_"):
        s = s[len("task_state_") :]
    return s.replace("_", "-")


@dataclass(slots=True)
class Seen:
    """What one result said: its task, the task's state, and whether it ends a stream."""

    task_id: str | None = None
    context_id: str | None = None
    state: str | None = None
    final: bool = False
    kind: str | None = None  # task | message | status | artifact


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 256 else None


def read_result(result: Any) -> Seen:
    """Read a JSON-RPC ``result`` of a message, task or stream event."""
    seen = Seen()
    if not isinstance(result, dict):
        return seen
    body: Any = result
    kind: str | None = None
    for key, name in (
        ("task", "task"),
        ("message", "message"),
        ("statusUpdate", "status"),
        ("artifactUpdate", "artifact"),
    ):
        inner = result.get(key)
        if isinstance(inner, dict) and len(result) == 1:
            body, kind = inner, name
            break
    if kind is None:  # 0.3's tagged objects, or a bare Task (GetTask, CancelTask)
        tag = result.get("kind")
        kind = {
            "task": "task",
            "message": "message",
            "status-update": "status",
            "artifact-update": "artifact",
        }.get(tag if isinstance(tag, str) else "")
        if kind is None and isinstance(result.get("status"), dict) and "id" in result:
            kind = "task"
    seen.kind = kind
    if kind == "task":
        seen.task_id = _str(body.get("id"))
    elif kind is not None:
        seen.task_id = _str(body.get("taskId"))
    seen.context_id = _str(body.get("contextId"))
    status = body.get("status")
    if isinstance(status, dict):
        seen.state = state_name(status.get("state"))
    if kind == "message":
        seen.final = True  # a message answers the call: nothing follows it
    elif kind in ("task", "status") and seen.state in FINAL_STATES:
        seen.final = True
    if body.get("final") is True:
        seen.final = True
    return seen


def read_response(data: Any) -> tuple[Seen, bool]:
    """(what the result said, whether it was an error response) of one JSON-RPC response."""
    if not isinstance(data, dict):
        return Seen(), False
    if "error" in data:
        return Seen(final=True), True
    return read_result(data.get("result")), False


class SSEScanner:
    """Splits relayed SSE bytes into events and reads each event's data, bounded.

    ``feed`` returns the responses completed by a chunk; an event larger than ``max_event``
    raises ValueError (the stream is cut with an error, not buffered without end).
    """

    def __init__(self, max_event: int) -> None:
        self.max_event = max_event
        self._buf = b""

    def feed(self, chunk: bytes) -> list[Any]:
        buf = self._buf + chunk
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        out: list[Any] = []
        while True:
            end = buf.find(b"\n\n")
            if end < 0:
                break
            event, buf = buf[:end], buf[end + 2 :]
            data = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line[:5] == b"data:"]
            if not data:
                continue
            try:
                out.append(orjson.loads(b"\n".join(data)))
            except orjson.JSONDecodeError:
                out.append(None)  # malformed: the caller decides
        if len(buf) > self.max_event:
            raise ValueError(f"an event of the stream exceeds {self.max_event} bytes")
        self._buf = buf
        return out
