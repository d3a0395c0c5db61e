"""What the gateway reads in an agent's answers: the task and its state, and whether a stream
has reached its end.

Both A2A versions the official SDK speaks are read: 1.0 wraps each stream event in a one-key
object (``task``, ``message``, ``statusUpdate``, ``artifactUpdate``) and spells states
``TASK_STATE_COMPLETED``; 0.3 tags objects with ``kind`` and spells states ``completed`` and
marks the last status update ``final``. Nothing here changes a byte of what is relayed.
"""

from __future__ import annotations

import re
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


# An event ends at an empty line; a line ends with CRLF, LF or CR (the SSE specification).
_BOUNDARY = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")
_LINE = re.compile(rb"\r\n|\r|\n")
NO_DATA: Any = object()  # an event without data (a comment, a keep-alive)


class SSEScanner:
    """Splits relayed SSE bytes into whole events, each with its data read, bounded.

    ``feed`` returns the events a chunk completed, as ``(raw bytes, data)``: the bytes exactly
    as the agent sent them (terminator included), and the event's data parsed (``None`` when
    it is not JSON, ``NO_DATA`` when it has none). Bytes of an event not yet complete are held
    back, so that whatever is relayed ends on an event boundary; an event larger than
    ``max_event`` raises ValueError (cut with an error, never buffered without end).
    """

    def __init__(self, max_event: int) -> None:
        self.max_event = max_event
        self._buf = b""

    @property
    def pending(self) -> bytes:
        """The bytes of an event that has not ended."""
        return self._buf

    def feed(self, chunk: bytes) -> list[tuple[bytes, Any]]:
        buf = self._buf + chunk
        # A CR at the very end may be the first half of a CRLF: decided by the next chunk.
        limit = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
        out: list[tuple[bytes, Any]] = []
        pos = 0
        while (m := _BOUNDARY.search(buf, pos, limit)) is not None:
            raw, event, pos = buf[pos : m.end()], buf[pos : m.start()], m.end()
            data = [
                line[6:] if line[5:6] == b" " else line[5:]
                for line in _LINE.split(event)
                if line[:5] == b"data:"
            ]
            if not data:
                out.append((raw, NO_DATA))
                continue
            try:
                out.append((raw, orjson.loads(b"\n".join(data))))
            except orjson.JSONDecodeError:
                out.append((raw, None))  # malformed: the caller decides
        rest = buf[pos:]
        if len(rest) > self.max_event:
            raise ValueError(f"an event of the stream exceeds {self.max_event} bytes")
        self._buf = rest
        return out
