"""A hostile upstream for the hardening tests: records every request byte for byte and
answers whatever the request's ``x-rogue-*`` headers ask for, including answers no real
provider (and not the turnout mock, which validates its knobs) would send.

Run as a script (``python tests/support/rogue.py --port N``); :func:`start_rogue` starts it as
a process. Nothing here parses HTTP leniently on purpose: a request head is kept exactly as it
arrived, so a test can see a second ``Host`` line or a smuggled ``Transfer-Encoding``.

Request headers (a provider's static ``headers`` or forwarded client headers):

- ``x-rogue-status``: the status code written in the status line, any number (``999``).
- ``x-rogue-body``: the body, verbatim (default ``{}``).
- ``x-rogue-body-bytes``: a JSON body of exactly this many bytes (``{"pad":"aaa…"}``).
- ``x-rogue-sse``: ``1`` sends the body as one chunked ``text/event-stream`` response (a
  literal ``x-rogue-body`` gets the event's blank line appended).
- ``x-rogue-bad-header``: ``1`` adds a response header whose value holds a control byte.
- ``x-rogue-delay-ms``: wait this long before the response head.
- ``x-rogue-reply-<name>``: a response header ``<name>`` with this value (as a real provider's
  account headers: ``x-rogue-reply-openai-organization: org-…``).

``GET /_rogue/requests`` lists the recorded requests (head as text, body length and its first
4 KiB, whether the gateway closed the connection before the answer was written);
``POST /_rogue/reset`` empties it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import deque
from typing import Any

_MAX_HEAD = 1 << 20
_RECORDS: deque[dict[str, Any]] = deque(maxlen=500)


def _headers(head: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            out.setdefault(name.strip().lower().decode("latin-1"), value.strip().decode("latin-1"))
    return out


def _content_length(headers: dict[str, str]) -> int:
    try:
        return max(0, int(headers.get("content-length", "0")))
    except ValueError:
        return 0


def _answer(headers: dict[str, str]) -> bytes:
    status = headers.get("x-rogue-status", "200")
    body = headers.get("x-rogue-body", "{}").encode("latin-1")
    if "x-rogue-body-bytes" in headers:
        size = int(headers["x-rogue-body-bytes"])
        body = b'{"pad":"' + b"a" * max(0, size - 10) + b'"}'
    extra = b"x-odd: a\x01b\r\n" if headers.get("x-rogue-bad-header") == "1" else b""
    for name, value in headers.items():
        if name.startswith("x-rogue-reply-"):
            extra += f"{name[len('x-rogue-reply-') :]}: {value}\r\n".encode("latin-1")
    if headers.get("x-rogue-sse") == "1":
        if "x-rogue-body-bytes" not in headers:
            body += b"\n\n"  # a header cannot carry the event's blank line
        return (
            b"HTTP/1.1 %s Rogue\r\ncontent-type: text/event-stream\r\n%b"
            b"transfer-encoding: chunked\r\n\r\n%x\r\n%b\r\n0\r\n\r\n"
            % (status.encode(), extra, len(body), body)
        )
    head = b"HTTP/1.1 %s Rogue\r\ncontent-type: application/json\r\n%bcontent-length: %d\r\n\r\n"
    return head % (status.encode(), extra, len(body)) + body


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            headers = _headers(head)
            body = await reader.readexactly(_content_length(headers))
            path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
            if path == b"/_rogue/requests":
                data = json.dumps(list(_RECORDS)).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(data) + data)
                await writer.drain()
                continue
            if path == b"/_rogue/reset":
                _RECORDS.clear()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                await writer.drain()
                continue
            record: dict[str, Any] = {
                "head": head.decode("latin-1"),
                "body_bytes": len(body),
                "body_head": body[:4096].decode("latin-1"),  # enough to read a small JSON body
                "at": time.time(),
                "abandoned": None,
            }
            _RECORDS.append(record)
            delay = float(headers.get("x-rogue-delay-ms", "0")) / 1000
            if delay:
                # Watch the connection while waiting: a gateway that gives up closes it.
                try:
                    await asyncio.wait_for(reader.read(1), delay)
                    record["abandoned"] = time.time()
                    return
                except TimeoutError:
                    pass
            record["abandoned"] = False
            writer.write(_answer(headers))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _main(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, limit=_MAX_HEAD)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(_main(parser.parse_args().port))
