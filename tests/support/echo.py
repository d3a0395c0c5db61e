"""An OpenAI-compatible upstream that answers with the request's own words, for guardrail
tests: what the gateway sent upstream is what the client reads back (so a redaction on the
way in and its reversal on the way out are both visible).

``POST /v1/chat/completions`` answers with the last user message's text, or with the
``x-echo-answer`` header's value when there is one (a judge's verdict). Streams send the
answer in pieces of ``x-echo-split`` characters (default 5), one SSE event and one socket
write each. ``x-echo-delay-ms`` waits before answering. Run as a script
(``python tests/support/echo.py --port N``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any


def _answer(request: dict[str, Any], headers: dict[str, str]) -> str:
    if "x-echo-answer" in headers:
        return headers["x-echo-answer"]
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-echo",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "echo",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    data = b"data: " + json.dumps(body).encode() + b"\n\n"
    return b"%x\r\n%b\r\n" % (len(data), data)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            headers: dict[str, str] = {}
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower().decode()] = value.strip().decode("utf-8", "replace")
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if head.startswith(b"GET"):
                out = b'{"object":"list","data":[]}'
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%b" % (len(out), out))
                await writer.drain()
                continue
            request = json.loads(body)
            answer = _answer(request, headers)
            await asyncio.sleep(float(headers.get("x-echo-delay-ms", "0")) / 1000)
            if request.get("stream"):
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                writer.write(_chunk({"role": "assistant", "content": ""}))
                size = max(1, int(headers.get("x-echo-split", "5")))
                for i in range(0, len(answer), size):
                    writer.write(_chunk({"content": answer[i : i + size]}))
                    await writer.drain()
                writer.write(_chunk({}, "stop"))
                done = b"data: [DONE]\n\n"
                writer.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(done), done))
                await writer.drain()
                continue
            out = json.dumps(
                {
                    "id": "chatcmpl-echo",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "echo",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                % len(out)
                + out
            )
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _main(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(_main(parser.parse_args().port))
