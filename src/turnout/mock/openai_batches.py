"""OpenAI's Batch API, played by the mock provider (tests and ``serve --demo``).

Stateful, like :mod:`turnout.mock.batches`: files uploaded to ``POST /v1/files`` (a
multipart form) and batches made by ``POST /v1/batches`` are kept, each kind bounded (the
oldest leaves past :data:`MAX_OBJECTS`; files also past :data:`MAX_HELD_BYTES`, batches past
:data:`MAX_HELD_ANSWERS` answers together), and
answered by ``GET /v1/files``, ``GET``/``DELETE /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``GET /v1/batches``, ``GET /v1/batches/{id}`` and
``POST /v1/batches/{id}/cancel``. Each line of a batch's input file is answered by the
mock's own route for its ``url`` at creation; the batch completes ``ttft_ms`` after it was
made (the server's ``--ttft-ms`` or the request's ``x-mock-ttft-ms``; 0: at once), when its
output file (the lines answered 200) and error file (the others) are made. A batch
cancelled before then ends ``cancelled`` with no output.
"""

from __future__ import annotations

import os
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import orjson

from turnout.errors import GatewayError
from turnout.mock import engine
from turnout.mock.content import new_uid
from turnout.mock.settings import MockSettings, SettingsError, apply_overrides
from turnout.openai_batches.lines import read_form

FILES = "/v1/files"
BATCHES = "/v1/batches"
MAX_OBJECTS = 1000
MAX_HELD_BYTES = 256 * 1024 * 1024  # the files' bytes together; the oldest leave past it
MAX_LINES = 10_000
# The answers of every batch held together (each line's, until its batch leaves): the oldest
# batches leave past it. Without it a gateway's in-process mock held 1000 batches of 10,000.
MAX_HELD_ANSWERS = 200_000
_FILE = re.compile(r"file-[0-9a-f]{24}")
_BATCH = re.compile(r"batch_[0-9a-f]{24}")
_DAY = 86_400


class _Refused(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


@dataclass(slots=True)
class _File:
    id: str
    name: str
    purpose: str
    created: int
    data: bytes

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created,
            "filename": self.name,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass(slots=True)
class _Batch:
    id: str
    request: dict[str, Any]
    created: float
    ends: float
    answers: list[tuple[str, int, dict[str, Any]]]  # (custom_id, status, body)
    cancelled: float | None = None
    output: str | None = None
    errors: str | None = None


class MockOpenAIBatches:
    """The files and batches one mock server (or one gateway's in-process mock) holds."""

    def __init__(self, max_objects: int = MAX_OBJECTS, max_answers: int = MAX_HELD_ANSWERS) -> None:
        self.max_objects = max_objects
        self.max_answers = max_answers
        self.held_answers = 0  # the answers of the batches kept
        self._files: OrderedDict[str, _File] = OrderedDict()
        self._held = 0  # the files' bytes
        self._batches: OrderedDict[str, _Batch] = OrderedDict()

    @staticmethod
    def claims(path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in (FILES, BATCHES))

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
        out = [("content-type", engine.JSON), ("x-request-id", f"req_{uid}")]
        try:
            if path == FILES or path.startswith(FILES + "/"):
                status, data = self._file(method, path, query, headers, body)
            else:
                status, data = self._batch(method, path, query, headers, body, settings)
        except _Refused as exc:
            error = engine._error_body("openai", exc.status, exc.message, uid, exc.param)
            return engine.MockResponse(exc.status, out, error, uid=uid)
        if isinstance(data, bytes):  # a file's content
            return engine.MockResponse(status, [("content-type", "application/octet-stream")], data)
        return engine.MockResponse(status, out, orjson.dumps(data), uid=uid)

    # -- files ---------------------------------------------------------------------------
    def _file(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any] | bytes]:
        rest = path[len(FILES) :].strip("/")
        if not rest:
            if method == "POST":
                return 200, self._upload(headers, body).view()
            if method == "GET":
                return 200, self._listed(self._files, query, lambda f: f.view())
            raise _Refused(405, f"Method {method} not allowed")
        file_id, _, action = rest.partition("/")
        found = self._files.get(file_id) if _FILE.fullmatch(file_id) else None
        if found is None:
            raise _Refused(404, f"No such File object: {file_id[:80]}", "id")
        if (method, action) == ("GET", ""):
            return 200, found.view()
        if (method, action) == ("GET", "content"):
            return 200, found.data
        if (method, action) == ("DELETE", ""):
            del self._files[file_id]
            self._held -= len(found.data)
            return 200, {"id": file_id, "object": "file", "deleted": True}
        raise _Refused(404, f"Unknown request URL: {method} {path}")

    def _upload(self, headers: Mapping[str, str], body: bytes) -> _File:
        kind = headers.get("content-type", "").encode("latin-1")
        try:
            name, start, end = read_form(body, kind, len(body))
        except GatewayError as exc:
            raise _Refused(400, str(exc), "file") from None
        return self._keep(body[start:end], "batch", name)

    def _keep(self, data: bytes, purpose: str, name: str) -> _File:
        file = _File("file-" + os.urandom(12).hex(), name, purpose, int(time.time()), data)
        self._files[file.id] = file
        self._held += len(data)
        while len(self._files) > self.max_objects or self._held > MAX_HELD_BYTES:
            _, gone = self._files.popitem(last=False)
            self._held -= len(gone.data)
        return file

    # -- batches -------------------------------------------------------------------------
    def _batch(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        settings: MockSettings,
    ) -> tuple[int, dict[str, Any]]:
        now = time.time()
        rest = path[len(BATCHES) :].strip("/")
        if not rest:
            if method == "POST":
                return 200, self._view(self._create(headers, body, settings, now), now)
            if method == "GET":
                return 200, self._listed(self._batches, query, lambda b: self._view(b, now))
            raise _Refused(405, f"Method {method} not allowed")
        batch_id, _, action = rest.partition("/")
        found = self._batches.get(batch_id) if _BATCH.fullmatch(batch_id) else None
        if found is None:
            raise _Refused(404, f"No batch found with id '{batch_id[:80]}'.", "id")
        if (method, action) == ("GET", ""):
            return 200, self._view(found, now)
        if (method, action) == ("POST", "cancel"):
            if found.cancelled is None and now < found.ends:
                found.cancelled = now
            return 200, self._view(found, now)
        raise _Refused(404, f"Unknown request URL: {method} {path}")

    def _create(
        self, headers: Mapping[str, str], body: bytes, settings: MockSettings, now: float
    ) -> _Batch:
        try:
            s = apply_overrides(settings, headers)
            request = orjson.loads(body)
        except (SettingsError, orjson.JSONDecodeError) as exc:
            raise _Refused(400, f"Invalid request: {exc}") from None
        if not isinstance(request, dict):
            raise _Refused(400, "The request body must be a JSON object")
        file = self._files.get(str(request.get("input_file_id")))
        if file is None:
            raise _Refused(400, "input_file_id: no such file", "input_file_id")
        answer = replace(s, ttft_ms=0.0, chunk_ms=0.0, fault=None)
        answers: list[tuple[str, int, dict[str, Any]]] = []
        for n, raw in enumerate(file.data.splitlines()[:MAX_LINES], 1):
            try:
                line = orjson.loads(raw)
                custom_id, url, params = line["custom_id"], line["url"], line["body"]
                assert url == request.get("endpoint") and isinstance(params, dict)
            except Exception:
                raise _Refused(400, f"line {n} of the input file is invalid") from None
            params = {**params, "stream": False}
            resp = engine.respond("POST", url, "", {}, orjson.dumps(params), answer)
            answers.append((str(custom_id), resp.status, orjson.loads(resp.body or b"{}")))
        ends = now + s.ttft_ms / 1000
        batch = _Batch("batch_" + os.urandom(12).hex(), request, now, ends, answers)
        self._batches[batch.id] = batch
        self.held_answers += len(answers)
        while len(self._batches) > 1 and (
            len(self._batches) > self.max_objects or self.held_answers > self.max_answers
        ):
            _, gone = self._batches.popitem(last=False)
            self.held_answers -= len(gone.answers)
        return batch

    def _finish(self, batch: _Batch) -> None:
        """The output and error files of a batch that has completed, made once."""
        if batch.output is not None or batch.errors is not None:
            return
        done, failed = [], []
        for custom_id, status, answer in batch.answers:
            line: dict[str, Any] = {"id": "batch_req_" + new_uid(), "custom_id": custom_id}
            if status == 200:
                line["response"] = {"status_code": 200, "request_id": new_uid(), "body": answer}
                line["error"] = None
                done.append(orjson.dumps(line) + b"\n")
            else:
                line["response"] = {"status_code": status, "request_id": new_uid(), "body": answer}
                line["error"] = None
                failed.append(orjson.dumps(line) + b"\n")
        if done:
            batch.output = self._keep(b"".join(done), "batch_output", "batch_output.jsonl").id
        if failed:
            batch.errors = self._keep(b"".join(failed), "batch_output", "batch_error.jsonl").id

    def _view(self, batch: _Batch, now: float) -> dict[str, Any]:
        request = batch.request
        cancelled = batch.cancelled is not None
        ended = cancelled or now >= batch.ends
        if ended and not cancelled:
            self._finish(batch)
        good = sum(1 for _, status, _ in batch.answers if status == 200)
        done = ended and not cancelled
        created = int(batch.created)
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": request.get("endpoint"),
            "errors": None,
            "input_file_id": request.get("input_file_id"),
            "completion_window": request.get("completion_window"),
            "status": "cancelled" if cancelled else "completed" if done else "in_progress",
            "output_file_id": batch.output,
            "error_file_id": batch.errors,
            "created_at": created,
            "in_progress_at": created,
            "expires_at": created + _DAY,
            "finalizing_at": int(batch.ends) if done else None,
            "completed_at": int(batch.ends) if done else None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": int(batch.cancelled) if batch.cancelled else None,
            "cancelled_at": int(batch.cancelled) if batch.cancelled else None,
            "request_counts": {
                "total": len(batch.answers),
                "completed": good if done else 0,
                "failed": len(batch.answers) - good if done else 0,
            },
            "metadata": request.get("metadata"),
        }

    def _listed(self, objects: OrderedDict[str, Any], query: str, view: Any) -> dict[str, Any]:
        args = dict(parse_qsl(query))
        raw = args.get("limit", "20")
        limit = int(raw) if raw.isdigit() else 0
        if not 1 <= limit <= 10_000:
            raise _Refused(400, "limit: an integer from 1 to 10000", "limit")
        ids: list[str] = list(reversed(objects))  # newest first
        after = args.get("after", "")
        if after in objects:
            ids = ids[ids.index(after) + 1 :]
        page = ids[:limit]
        return {
            "object": "list",
            "data": [view(objects[i]) for i in page],
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
            "has_more": len(ids) > limit,
        }
