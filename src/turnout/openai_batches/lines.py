"""A batch input file as the client uploaded it: its form, its lines, and the file sent on.

The upload is a ``multipart/form-data`` body (read by :mod:`turnout.protocols.form`, which
refuses a form the gateway and an upstream could read differently) with a ``purpose`` field
(``batch``: the only purpose served) and one ``file`` part. The file is JSON Lines, each line
an object with a ``custom_id`` (a string, unique in the file), ``method: "POST"``, the same
``url`` on every line (one of :data:`ENDPOINTS`) and a ``body`` object naming a ``model`` the
gateway accepts as a name. Bounded: the file by ``storage.batch_file_mb``, at most
:data:`MAX_LINES` lines of at most :data:`MAX_LINE` bytes each (OpenAI's own limits), and
:data:`MAX_MODELS` models. The file sent upstream is the same lines, each with its model
renamed to the deployment's upstream name, in a form the gateway writes itself (the client's
part headers are not forwarded; its file name is, when it is plain). Lines are parsed one at a
time, to check them and again to write them: the parsed file is never held whole.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import orjson

from turnout.errors import BadRequest, PayloadTooLarge
from turnout.names import check_model_name
from turnout.protocols import form

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/completions")
MAX_LINES = 50_000
MAX_LINE = 8 * 1024 * 1024
MAX_MODELS = 64
MAX_CUSTOM_ID = 512
_FILENAME = re.compile(rb'filename="([A-Za-z0-9._ -]{1,200})"')
DEFAULT_NAME = "batch.jsonl"


@dataclass(slots=True)
class Upload:
    """A checked file, as offsets into the form it came in: its lines are parsed once to
    check them and once more to write the file sent on, never all held parsed at once."""

    filename: str
    source: bytes  # the whole form
    spans: list[tuple[int, int]]  # each line's bytes in ``source``
    endpoint: str
    models: list[str]  # public names, in order of first use


def read_form(body: bytes, content_type: bytes, most: int) -> tuple[str, int, int]:
    """The file's name and where its bytes are in an upload form whose ``purpose`` is
    ``batch``."""
    mark = form.boundary(content_type)
    purpose: str | None = None
    found: tuple[str, int, int] | None = None
    for part in form.parts(body, mark):
        if part.name == "purpose" and not part.file:
            if purpose is not None:
                raise BadRequest("purpose: given more than once", param="purpose")
            purpose = body[part.start : part.end].decode("utf-8", "replace")
        elif part.name == "file" and part.file:
            if found is not None:
                raise BadRequest("file: given more than once", param="file")
            head = body[body.rfind(b"\r\n--" + mark, 0, part.start) : part.start]
            named = _FILENAME.search(head)
            name = named.group(1).decode() if named is not None else DEFAULT_NAME
            found = name, part.start, part.end
    if purpose != "batch":
        raise BadRequest(
            "purpose: this gateway serves files of purpose 'batch' only.", param="purpose"
        )
    if found is None:
        raise BadRequest("file: a file part is required.", param="file")
    size = found[2] - found[1]
    if size > most:
        raise PayloadTooLarge(f"The file is {size} bytes; the limit is {most} bytes.")
    return found


def _spans(source: bytes, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    while start < end:
        stop = source.find(b"\n", start, end)
        stop = end if stop < 0 else stop
        spans.append((start, stop))
        if len(spans) > MAX_LINES:
            raise BadRequest(f"file: more than {MAX_LINES} lines.", param="file")
        start = stop + 1
    if spans and not source[spans[-1][0] : spans[-1][1]].strip():
        spans.pop()  # a last line of blanks (a CR)
    return spans


def check(filename: str, source: bytes, start: int, end: int) -> Upload:
    """The file's lines, checked (a 400 naming the first line at fault)."""
    spans = _spans(source, start, end)
    if not spans:
        raise BadRequest("file: the file has no lines.", param="file")
    models: dict[str, None] = {}
    seen: set[str] = set()
    endpoint = ""
    for n, (first, last) in enumerate(spans, 1):
        line = _line(n, memoryview(source)[first:last])
        custom_id, url, model = line["custom_id"], line["url"], line["body"]["model"]
        if endpoint and url != endpoint:
            raise _bad(n, f"url: every line must call the same endpoint ({endpoint})")
        endpoint = url
        if custom_id in seen:
            raise _bad(n, "custom_id: given on an earlier line; each must be unique")
        seen.add(custom_id)
        models[check_model_name(model, "file")] = None
        if len(models) > MAX_MODELS:
            raise BadRequest(f"file: a file may name at most {MAX_MODELS} models.", param="file")
    return Upload(filename, source, spans, endpoint, list(models))


def _bad(n: int, message: str) -> BadRequest:
    return BadRequest(f"file: line {n}: {message}.", param="file")


def _line(n: int, text: memoryview) -> dict[str, Any]:
    if len(text) > MAX_LINE:
        raise _bad(n, f"longer than {MAX_LINE} bytes")
    try:
        line = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise _bad(n, "not a JSON object") from None
    if not isinstance(line, dict):
        raise _bad(n, "not a JSON object")
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not 0 < len(custom_id) <= MAX_CUSTOM_ID:
        raise _bad(n, f"custom_id: a string of 1 to {MAX_CUSTOM_ID} characters")
    if line.get("method") != "POST":
        raise _bad(n, "method: must be POST")
    if line.get("url") not in ENDPOINTS:
        raise _bad(n, f"url: one of {', '.join(ENDPOINTS)}")
    body = line.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise _bad(n, "body: an object naming a model")
    return line


def upstream_form(upload: Upload, names: dict[str, str]) -> tuple[str, bytes]:
    """The content type and body of the upload sent upstream: ``purpose=batch`` and the file,
    every line with its model renamed (one JSON object a line), written by the gateway."""
    mark = "turnout-" + os.urandom(16).hex()
    out = bytearray(
        f'--{mark}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        f'--{mark}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{upload.filename}"\r\nContent-Type: application/jsonl\r\n\r\n'.encode()
    )
    view = memoryview(upload.source)
    for first, last in upload.spans:
        line = orjson.loads(view[first:last])
        line["body"]["model"] = names[line["body"]["model"]]
        out += orjson.dumps(line)
        out += b"\n"
    out += f"\r\n--{mark}--\r\n".encode()
    return f"multipart/form-data; boundary={mark}", bytes(out)
