"""Minimal, fast fake LLM upstream: raw asyncio Protocol + uvloop + httptools.

POST /v1/chat/completions
  * body without ``"stream": true`` -> a fixed ~400-byte OpenAI ``chat.completion`` JSON
    (Content-Length, keep-alive);
  * body with ``"stream": true``    -> 20 SSE ``chat.completion.chunk`` frames plus
    ``data: [DONE]``, chunked transfer encoding, each frame written separately (one
    ``transport.write`` per frame, back to back);
  * ... and ``"bench_pace":true``    -> the same frames, 1 ms apart (token pacing), so each
    frame reaches the proxy in its own read, as with a real provider.

Anything else -> 404. HTTP/1.1 keep-alive, no pipelining guarantees beyond in-order replies.

    python bench/candidates/upstream.py --port 18000 [--tls-cert c.pem --tls-key k.pem]
"""

from __future__ import annotations

import argparse
import asyncio
import socket

import httptools
import orjson
import uvloop

COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench0000000000000000000000",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello! This is a fixed benchmark reply from the fake upstream.",
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 14, "total_tokens": 26},
        "system_fingerprint": "fp_bench",
    }
)

NONSTREAM_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(COMPLETION)).encode() + b"\r\n"
    b"\r\n" + COMPLETION
)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _sse_frames(n: int = 20) -> list[bytes]:
    frames = []
    for i in range(n):
        delta: dict[str, object] = {"content": f"tok{i} "}
        if i == 0:
            delta["role"] = "assistant"
        ev = {
            "id": "chatcmpl-bench0000000000000000000000",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "delta": delta,
                    "logprobs": None,
                    "finish_reason": "stop" if i == n - 1 else None,
                }
            ],
        }
        frames.append(_chunk(b"data: " + orjson.dumps(ev) + b"\n\n"))
    frames.append(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    return frames


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
)
STREAM_FRAMES = _sse_frames()
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
STREAM_MARKERS = (b'"stream":true', b'"stream": true')
PACE_MARKER = b'"bench_pace":true'  # benchmark-only request field: pace the SSE frames
PACE_S = 0.001


class UpstreamProtocol(asyncio.Protocol):
    __slots__ = ("_body", "_parser", "_transport", "_url")

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._body: list[bytes] = []
        self._url = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._transport.close()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url = url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        t = self._transport
        if t is None:
            return
        if self._url != b"/v1/chat/completions" or self._parser.get_method() != b"POST":
            t.write(NOT_FOUND)
        else:
            body = b"".join(self._body)
            if STREAM_MARKERS[0] in body or STREAM_MARKERS[1] in body:
                if PACE_MARKER in body:
                    self._paced_stream(t)
                    return
                t.write(STREAM_HEAD)
                for frame in STREAM_FRAMES:  # one write per SSE frame
                    t.write(frame)
            else:
                t.write(NONSTREAM_RESPONSE)
        if not self._parser.should_keep_alive():
            t.close()

    def _paced_stream(self, t: asyncio.Transport) -> None:
        """Like a real LLM: headers + first frame now, then one frame every PACE_S seconds."""
        keep = self._parser.should_keep_alive()
        t.write(STREAM_HEAD + STREAM_FRAMES[0])
        frames = iter(STREAM_FRAMES[1:])
        loop = asyncio.get_running_loop()

        def tick() -> None:
            if t.is_closing():
                return
            frame = next(frames, None)
            if frame is None:
                if not keep:
                    t.close()
                return
            t.write(frame)
            loop.call_later(PACE_S, tick)

        loop.call_later(PACE_S, tick)


async def serve(host: str, port: int, ssl_ctx: object = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=4096, ssl=ssl_ctx)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18000)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    a = ap.parse_args()
    ctx = None
    if a.tls_cert:
        import ssl

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
    uvloop.run(serve(a.host, a.port, ctx))


if __name__ == "__main__":
    main()
