"""Anthropic's Message Batches API, played by the mock provider (tests and ``serve --demo``).

Unlike every other mock route this one keeps state: a batch made by ``POST
/v1/messages/batches`` is kept (bounded: the oldest batch leaves past :data:`MAX_BATCHES`) and
answered by ``GET``/``DELETE /v1/messages/batches/{id}``, ``POST …/cancel``, ``GET …/results``
and ``GET /v1/messages/batches``. Each request of a batch is answered by the mock's own
Messages route at creation; the batch ends ``ttft_ms`` after it was made (the server's
``--ttft-ms`` or the request's ``x-mock-ttft-ms``; 0: it has ended at once), so a test can
hold a batch in progress to cancel it. Every answer is built whole: nothing here sleeps.
"""

from __future__ import annotations

import os
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from turnout.mock import engine
from turnout.mock.content import new_uid
from turnout.mock.settings import MockSettings, SettingsError, apply_overrides

PREFIX = "/v1/messages/batches"
MAX_BATCHES = 1000
MAX_REQUESTS = 10_000
_CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID = re.compile(r"msgbatch_[0-9a-f]{24}")
_DAY = 86_400.0


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class _Batch:
    id: str
    created: float
    ends: float
    results: list[tuple[str, dict[str, Any]]]  # (custom_id, result)
    cancelled: float | None = None

    def ended(self, now: float) -> bool:
        return self.cancelled is not None or now >= self.ends


def _stamp(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


class MockBatches:
    """The batches one mock server (or one gateway's in-process mock) holds."""

    def __init__(self, max_batches: int = MAX_BATCHES) -> None:
        self.max_batches = max_batches
        self._batches: OrderedDict[str, _Batch] = OrderedDict()

    @staticmethod
    def claims(path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    def respond(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        settings: MockSettings = engine.DEFAULT_SETTINGS,
    ) -> engine.MockResponse:
        uid = new_uid()
        out = [("content-type", engine.JSON), ("request-id", f"req_{uid}")]
        try:
            status, data = self._answer(method, path, query, headers, body, settings)
        except _Refused as exc:
            error = engine._error_body("anthropic", exc.status, exc.message, uid, None)
            return engine.MockResponse(exc.status, out, error, uid=uid)
        if isinstance(data, bytes):  # results: JSON Lines
            return engine.MockResponse(status, [("content-type", "application/x-jsonl")], data)
        return engine.MockResponse(status, out, orjson.dumps(data), uid=uid)

    def _answer(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        settings: MockSettings,
    ) -> tuple[int, dict[str, Any] | bytes]:
        now = time.time()
        rest = path[len(PREFIX) :].strip("/")
        if not rest:
            if method == "POST":
                return 200, self._create(headers, body, settings, now)
            if method == "GET":
                return 200, self._list(query, headers, now)
            raise _Refused(405, f"Method {method} not allowed")
        batch_id, _, action = rest.partition("/")
        batch = self._batches.get(batch_id) if _ID.fullmatch(batch_id) else None
        if batch is None:
            raise _Refused(404, f"No message batch found with id '{batch_id[:80]}'.")
        if (method, action) == ("GET", ""):
            return 200, self._view(batch, headers, now)
        if (method, action) == ("POST", "cancel"):
            if not batch.ended(now):
                batch.cancelled = now
                view = self._view(batch, headers, now)
                view["processing_status"] = "canceling"
                view["ended_at"] = view["results_url"] = None
                return 200, view
            return 200, self._view(batch, headers, now)
        if (method, action) == ("DELETE", ""):
            if not batch.ended(now):
                raise _Refused(400, "A batch in progress cannot be deleted; cancel it first.")
            del self._batches[batch_id]
            return 200, {"id": batch_id, "type": "message_batch_deleted"}
        if (method, action) == ("GET", "results"):
            if not batch.ended(now):
                raise _Refused(400, "This batch has not finished processing yet.")
            lines = []
            for custom_id, result in batch.results:
                if batch.cancelled is not None:
                    result = {"type": "canceled"}
                lines.append(orjson.dumps({"custom_id": custom_id, "result": result}) + b"\n")
            return 200, b"".join(lines)
        raise _Refused(404, f"Unknown request URL: {method} {path}")

    def _create(
        self, headers: Mapping[str, str], body: bytes, settings: MockSettings, now: float
    ) -> dict[str, Any]:
        try:
            s = apply_overrides(settings, headers)
            data = orjson.loads(body)
        except (SettingsError, orjson.JSONDecodeError) as exc:
            raise _Refused(400, f"Invalid request: {exc}") from None
        requests = data.get("requests") if isinstance(data, dict) else None
        if not isinstance(requests, list) or not 0 < len(requests) <= MAX_REQUESTS:
            raise _Refused(400, f"requests: a list of 1 to {MAX_REQUESTS} requests")
        seen: set[str] = set()
        results: list[tuple[str, dict[str, Any]]] = []
        answer = replace(s, ttft_ms=0.0, chunk_ms=0.0, fault=None)
        for i, item in enumerate(requests):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            params = item.get("params") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or _CUSTOM_ID.fullmatch(custom_id) is None:
                raise _Refused(400, f"requests.{i}.custom_id: 1 to 64 of [A-Za-z0-9_-]")
            if custom_id in seen:
                raise _Refused(400, f"requests.{i}.custom_id: '{custom_id}' is given twice")
            if not isinstance(params, dict):
                raise _Refused(400, f"requests.{i}.params: an object")
            seen.add(custom_id)
            params = {**params, "stream": False}
            resp = engine.respond("POST", "/v1/messages", "", {}, orjson.dumps(params), answer)
            message = orjson.loads(resp.body or b"{}")
            if resp.status == 200:
                results.append((custom_id, {"type": "succeeded", "message": message}))
            else:
                results.append((custom_id, {"type": "errored", "error": message}))
        batch = _Batch("msgbatch_" + os.urandom(12).hex(), now, now + s.ttft_ms / 1000, results)
        self._batches[batch.id] = batch
        while len(self._batches) > self.max_batches:
            self._batches.popitem(last=False)
        return self._view(batch, headers, now)

    def _list(self, query: str, headers: Mapping[str, str], now: float) -> dict[str, Any]:
        args = dict(parse_qsl(query))
        raw = args.get("limit", "20")
        limit = int(raw) if raw.isdigit() else 0
        if not 1 <= limit <= 1000:
            raise _Refused(400, "limit: an integer from 1 to 1000")
        ids = list(reversed(self._batches))  # newest first
        after, before = args.get("after_id", ""), args.get("before_id", "")
        if after in self._batches:
            ids = ids[ids.index(after) + 1 :]
        elif before in self._batches:
            ids = ids[: ids.index(before)]
        page = ids[:limit]
        return {
            "data": [self._view(self._batches[i], headers, now) for i in page],
            "has_more": len(ids) > limit,
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }

    def _view(self, batch: _Batch, headers: Mapping[str, str], now: float) -> dict[str, Any]:
        ended = batch.ended(now)
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if not ended:
            counts["processing"] = len(batch.results)
        elif batch.cancelled is not None:
            counts["canceled"] = len(batch.results)
        else:
            for _, result in batch.results:
                counts[result["type"]] += 1
        host = headers.get("host", "127.0.0.1")
        ended_at = (batch.cancelled or batch.ends) if ended else None
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": _stamp(batch.created),
            "ended_at": _stamp(ended_at),
            "expires_at": _stamp(batch.created + _DAY),
            "archived_at": None,
            "cancel_initiated_at": _stamp(batch.cancelled),
            "results_url": f"http://{host}{PREFIX}/{batch.id}/results" if ended else None,
        }
