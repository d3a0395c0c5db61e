"""A scripted upstream: answers each request with the answer a JSON script names for the
request's model, byte for byte, including answers no real provider would send (wrong shapes in
valid JSON, streams that never end, one line of a hundred megabytes).

Run as a script (``python tests/support/scripted.py --port N --script answers.json``);
:func:`tests.support.procs.start_scripted` starts it as a process. The model is read from the
path (``/models/{model}:…``, Gemini) or from the JSON body's ``model``. An answer is an object:

- ``status`` (default 200), ``type`` (default ``application/json``; ``text/event-stream`` for
  a stream), ``headers`` (more response headers, name to value);
- ``chunks``: strings written one chunk each (chunked transfer encoding), in order;
  ``binary``: true when they are base64 of the bytes to write (an AWS event stream);
- ``repeat``: after ``chunks``, this string written ``times`` more times (``-1``: until the
  gateway closes the connection), then the strings of ``after``, one chunk each;
- ``hold``: true leaves the answer unfinished after ``chunks``, the connection open until the
  gateway closes it (a stream whose last events are still to come).

``GET /_scripted/requests`` lists what was asked (path, model, body length, whether the gateway
closed the connection while the answer was still being written).

A script key ``"GET /v1/responses/r1"`` (method and path) answers requests that name no model.
A request carrying ``x-scripted-answer`` (an answer as above, JSON in base64) gets that answer
whatever the script says: a property test varies the upstream's answer per request through a
gateway whose provider forwards ``x-scripted-*``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
from typing import Any

_MAX_HEAD = 1 << 20
_RECORDS: list[dict[str, Any]] = []
_GEMINI = re.compile(rb"/models/([^:/?]+)[:?]")


def _model(path: bytes, body: bytes) -> str:
    if (found := _GEMINI.search(path)) is not None:
        return found.group(1).decode("latin-1").replace("%2F", "/")
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("model", "")) if isinstance(data, dict) else ""


def _header(head: bytes, wanted: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == wanted:
            return value.strip()
    return None


def _content_length(head: bytes) -> int:
    return int(_header(head, b"content-length") or 0)


async def _write(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    answer: dict[str, Any],
    record: dict[str, Any],
) -> None:
    status = int(answer.get("status", 200))
    kind = str(answer.get("type", "application/json"))
    extra = b"".join(
        b"%s: %s\r\n" % (str(k).encode(), str(v).encode())
        for k, v in dict(answer.get("headers", {})).items()
    )
    writer.write(
        b"HTTP/1.1 %d Scripted\r\ncontent-type: %s\r\ntransfer-encoding: chunked\r\n%b\r\n"
        % (status, kind.encode(), extra)
    )
    chunks = [str(c).encode() for c in answer.get("chunks", [])]
    if answer.get("binary"):
        chunks = [base64.b64decode(c) for c in chunks]
    repeat = answer.get("repeat")
    for chunk in chunks:
        writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        await writer.drain()
    if repeat is not None:
        piece = str(repeat["chunk"]).encode()
        frame = b"%x\r\n%b\r\n" % (len(piece), piece)
        times = int(repeat.get("times", -1))
        sent = 0
        while times < 0 or sent < times:
            writer.write(frame)
            await writer.drain()
            sent += 1
            record["repeated"] = sent
    for chunk in (str(c).encode() for c in answer.get("after", [])):
        writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        await writer.drain()
    if answer.get("hold"):
        await reader.read()  # until the gateway closes the connection
        raise ConnectionError("closed by the gateway")
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def _handler(script: dict[str, Any]) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                body = await reader.readexactly(_content_length(head))
                path = head.split(b" ", 2)[1]
                if path == b"/_scripted/requests":
                    data = json.dumps(_RECORDS).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(data) + data
                    )
                    await writer.drain()
                    continue
                model = _model(path, body)
                record: dict[str, Any] = {
                    "path": path.decode("latin-1"),
                    "model": model,
                    "body": body[:8192].decode("utf-8", "replace"),
                    "closed": False,
                }
                _RECORDS.append(record)
                method = head.split(b" ", 1)[0].decode("latin-1")
                answer = script.get(f"{method} {record['path']}") or script.get(
                    model, {"status": 404, "chunks": ['{"error": "no script"}']}
                )
                if (given := _header(head, b"x-scripted-answer")) is not None:
                    answer = json.loads(base64.b64decode(given))
                try:
                    await _write(reader, writer, answer, record)
                except ConnectionError:
                    record["closed"] = True
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    return handle


async def _main(port: int, script: dict[str, Any]) -> None:
    server = await asyncio.start_server(_handler(script), "127.0.0.1", port, limit=_MAX_HEAD)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--script", required=True)
    args = parser.parse_args()
    with open(args.script) as f:
        loaded = json.load(f)
    asyncio.run(_main(args.port, loaded))
