"""An A2A agent that misbehaves on request, as a real process on loopback.

    python -m tests.a2a.rogue_agent --port N

It serves a valid card; its JSON-RPC endpoint answers by the text of the message:
``malformed`` (200, not JSON), ``html`` (500, an HTML page), ``hang`` (never answers),
``cut`` (a stream: one task event, then the connection is dropped), ``half`` (the same, cut
in the middle of a second event), ``short`` (a stream: one
task event, then a clean end before the task finished), ``garbage`` (a stream whose second
event is not JSON), ``flip`` (a stream whose task flips between submitted and working
``FLIPS`` times before it completes, a new task each time). Anything else gets a normal
answer. ``status NNN`` answers a JSON-RPC result with HTTP status NNN and headers meant for
browsers and proxies (``BROWSERS``: a cookie, a redirect's location, ``clear-site-data``,
CORS, a public cache policy, ``text/html``); ``headers`` streams a completed task with the
same headers. ``--card-rpc URL`` makes the card name ``URL`` as its JSON-RPC endpoint (another
origin, for one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

FLIPS = 60
# Headers an agent has no business sending a gateway's callers.
BROWSERS = (
    b"set-cookie: session=rogue; Path=/\r\nlocation: http://169.254.169.254/\r\n"
    b'clear-site-data: "*"\r\naccess-control-allow-origin: *\r\n'
    b"access-control-allow-credentials: true\r\ncache-control: public, max-age=31536000\r\n"
)
_TASK = {"id": "t-rogue", "contextId": "c-rogue", "status": {"state": "TASK_STATE_WORKING"}}


def _text(body: bytes) -> str:
    try:
        data = json.loads(body)
        return str(data["params"]["message"]["parts"][0]["text"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _rid(body: bytes) -> Any:
    try:
        return json.loads(body).get("id")
    except (ValueError, AttributeError):
        return None


def _chunk(raw: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(raw), raw)


def _event(payload: dict[str, Any]) -> bytes:
    return _chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")


async def handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, card_rpc: str | None
) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, _path, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        if method == "GET":
            card = {
                "name": "rogue",
                "description": "misbehaves",
                "version": "1",
                "supportedInterfaces": [
                    {
                        "url": card_rpc or f"http://127.0.0.1:{port}/rpc",
                        "protocolBinding": "JSONRPC",
                        "protocolVersion": "1.0",
                    }
                ],
                "capabilities": {"streaming": True},
                "defaultInputModes": ["text/plain"],
                "defaultOutputModes": ["text/plain"],
                "skills": [],
            }
            await _reply(writer, 200, "application/json", json.dumps(card).encode())
            return
        text, rid = _text(body), _rid(body)
        if text == "malformed":
            await _reply(writer, 200, "application/json", b"this is not json-rpc")
        elif text == "html":
            await _reply(writer, 500, "text/html", b"<html>boom</html>")
        elif text == "hang":
            await asyncio.sleep(3600)
        elif text.startswith("status "):
            await _reply(writer, int(text[7:]), "text/html", _message(rid), BROWSERS)
        elif text == "headers":
            await _headers(writer, rid)
        elif text == "flip":
            await _flip(writer, rid)
        elif text in ("cut", "half", "short", "garbage"):
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            writer.write(_event({"jsonrpc": "2.0", "id": rid, "result": {"task": _TASK}}))
            await writer.drain()
            if text == "half":  # the next event begins, and the connection breaks mid-event
                writer.write(_chunk(b'data: {"jsonrpc": "2.0", "halfway'))
                await writer.drain()
            if text in ("cut", "half"):
                writer.transport.abort()
                return
            if text == "garbage":
                writer.write(_chunk(b"data: {nope\n\n"))
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        else:
            await _reply(writer, 200, "application/json", _message(rid))
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def _message(rid: Any) -> bytes:
    answer = {
        "jsonrpc": "2.0",
        "id": rid,
        "result": {"message": {"messageId": "r", "role": "ROLE_AGENT", "parts": [{"text": "ok"}]}},
    }
    return json.dumps(answer).encode()


async def _headers(writer: asyncio.StreamWriter, rid: Any) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        + BROWSERS
        + b"transfer-encoding: chunked\r\n\r\n"
    )
    task = {
        **_TASK,
        "id": f"t-headers-{uuid.uuid4().hex}",
        "status": {"state": "TASK_STATE_COMPLETED"},
    }
    writer.write(_event({"jsonrpc": "2.0", "id": rid, "result": {"task": task}}))
    writer.write(b"0\r\n\r\n")
    await writer.drain()


async def _flip(writer: asyncio.StreamWriter, rid: Any) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    task = {**_TASK, "id": f"t-flip-{uuid.uuid4().hex}", "contextId": "c-flip"}
    writer.write(_event({"jsonrpc": "2.0", "id": rid, "result": {"task": task}}))
    states = [("TASK_STATE_SUBMITTED", "TASK_STATE_WORKING")[i % 2] for i in range(FLIPS)]
    for state in [*states, "TASK_STATE_COMPLETED"]:
        update = {"taskId": task["id"], "contextId": "c-flip", "status": {"state": state}}
        writer.write(_event({"jsonrpc": "2.0", "id": rid, "result": {"statusUpdate": update}}))
    writer.write(b"0\r\n\r\n")
    await writer.drain()


async def _reply(
    writer: asyncio.StreamWriter, status: int, ctype: str, body: bytes, extra: bytes = b""
) -> None:
    writer.write(
        b"HTTP/1.1 %d X\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n"
        % (status, ctype.encode(), len(body))
        + extra
        + b"\r\n"
        + body
    )
    await writer.drain()


async def main(port: int, card_rpc: str | None) -> None:
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, port, card_rpc), "127.0.0.1", port
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--card-rpc", default=None)
    args = p.parse_args()
    asyncio.run(main(args.port, args.card_rpc))
