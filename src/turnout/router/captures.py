"""Prompts and answers of past requests, read back from request capture files.

The request log keeps who answered, at what cost and how fast, but never the text. The text a
router learns from (the prompt) and a judge reads (prompt and answer) comes from request
capture (``capture: {enabled: true, models: [auto]}``, docs/observability.md): one JSON file per
request, secrets already redacted. Files cut short (``truncated``), failed answers and other
models are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from turnout.router.text import DEFAULT_MAX_CHARS, answer_text, prompt_text, stream_text

MAX_ANSWER_CHARS = 8000


@dataclass(frozen=True, slots=True)
class Captured:
    request_id: str
    model: str
    protocol: str
    prompt: str
    answer: str
    status: int
    deployment: str | None
    time: datetime | None
    key_id: str | None = None  # the gateway key whose call it was (request ids are not unique)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_capture(path: Path, max_chars: int = DEFAULT_MAX_CHARS) -> Captured | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or record.get("operation") != "chat":
        return None
    request, response = record.get("request"), record.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        return None
    if request.get("truncated") or not isinstance(request.get("body"), dict):
        return None
    protocol = str(record.get("protocol") or "openai")
    prompt = prompt_text(request["body"], protocol, max_chars)
    status = response.get("status")
    if not prompt or not isinstance(status, int):
        return None
    if isinstance(response.get("chunks"), list):
        chunks = [c.get("data", "") for c in response["chunks"] if isinstance(c, dict)]
        answer = stream_text([c for c in chunks if isinstance(c, str)], protocol)
    else:
        answer = answer_text(response.get("body"), protocol)
    return Captured(
        request_id=str(record.get("request_id")),
        model=str(record.get("model")),
        protocol=protocol,
        prompt=prompt,
        answer=answer[:MAX_ANSWER_CHARS],
        status=status,
        deployment=record.get("deployment"),
        time=_time(record.get("time")),
        key_id=record.get("key_id") if isinstance(record.get("key_id"), str) else None,
    )


def iter_captures(
    directory: str | Path, models: Iterable[str], since: datetime | None = None
) -> Iterator[Captured]:
    """Successful, complete chat captures of ``models``, oldest first."""
    wanted = set(models)
    root = Path(directory)
    if not root.is_dir():
        return
    for path in sorted(root.glob("*.json")):
        item = read_capture(path)
        if item is None or item.model not in wanted or not 200 <= item.status < 300:
            continue
        if since is not None and item.time is not None and item.time < since:
            continue
        yield item
