"""A hostile cloud upstream for the cloud providers' hardening tests: Bedrock, Vertex AI, Azure
OpenAI and their token endpoints, answering what no real cloud would, byte for byte.

Run as a script (``python tests/integration/clouds/hostile.py --port N``). Every request is
recorded (its head exactly as it arrived, the path as sent, its body's SHA-256);
``GET /_hostile/requests`` lists them. The answer is chosen by the model the request names in
its path:

- Bedrock ``/model/{model}/{action}``, Vertex ``…/models/{model}:{action}``, Azure
  ``/openai/deployments/{model}/…``: the model (percent-decoded), with a Bedrock
  ``anthropic.`` prefix dropped, is a scenario of :data:`SCENARIOS`; an unknown one gets a
  well-formed answer of the cloud's kind;
- ``/token…`` (Google) and ``…/oauth2/v2.0/token`` (Entra ID) issue :data:`TOKEN`; a path
  (Google's ``token_uri``, Entra's tenant) holding ``garbage`` answers HTML, ``echo`` an error
  quoting the request, ``crlf`` a token followed by a header line, ``number`` a token that is
  a number, ``overflow`` a lifetime of 10**30 seconds, ``hang`` its head and then nothing,
  ``list`` a JSON list, ``huge`` a token that never ends.

Scenario ``echo`` answers a 400 whose message quotes the request head (its credentials
included), ``echo-ok`` a 200 whose text does: an upstream that echoes what it was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import struct
import zlib
from typing import Any
from urllib.parse import unquote

TOKEN = "ya29.hostile-issued-token-0123456789abcdef"
_MAX_HEAD = 1 << 20
_RECORDS: list[dict[str, Any]] = []


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    head = b""
    for name, value in headers.items():
        raw = value.encode()
        head += bytes([len(name)]) + name.encode() + b"\x07" + len(raw).to_bytes(2, "big") + raw
    total = 16 + len(head) + len(payload)
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def chunk(event: dict[str, Any]) -> bytes:
    data = json.dumps({"bytes": base64.b64encode(json.dumps(event).encode()).decode()})
    return frame(
        {":message-type": "event", ":event-type": "chunk", ":content-type": "application/json"},
        data.encode(),
    )


def converse_event(kind: str, event: dict[str, Any]) -> bytes:
    return frame({":message-type": "event", ":event-type": kind}, json.dumps(event).encode())


def exception(name: str, message: str) -> bytes:
    headers = {":message-type": "exception", ":exception-type": name}
    return frame(headers, json.dumps({"message": message}).encode())


START = {
    "type": "message_start",
    "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 0},
    },
}  # fmt: skip
BLOCK = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
DELTA = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
STOP_BLOCK = {"type": "content_block_stop", "index": 0}
END: list[dict[str, Any]] = [
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"output_tokens": 1}},
    {"type": "message_stop"},
]  # fmt: skip
OPENING = [chunk(START), chunk(BLOCK), chunk(DELTA)]
WHOLE = [*OPENING, chunk(STOP_BLOCK), *(chunk(e) for e in END)]


def _prelude(total: int, head_len: int) -> bytes:
    prelude = struct.pack(">II", total, head_len)
    return prelude + struct.pack(">I", zlib.crc32(prelude))


def _bad_message_crc() -> bytes:
    raw = bytearray(chunk(DELTA))
    raw[-1] ^= 0xFF
    return bytes(raw)


def _bad_prelude_crc() -> bytes:
    raw = bytearray(chunk(DELTA))
    raw[9] ^= 0xFF
    return bytes(raw)


def _payload_chunk(payload: bytes) -> bytes:
    return frame({":message-type": "event", ":event-type": "chunk"}, payload)


# A Bedrock event stream: the chunks written (one write each) and whether the connection is then
# held open (a stream whose claimed bytes never arrive) or the stream ended cleanly.
STREAMS: dict[str, tuple[list[bytes], bool]] = {
    "ok": (WHOLE, False),
    "split": ([bytes([b]) for b in b"".join(WHOLE)], False),
    # A prelude that claims 4 GiB (its CRC right), then nothing: a length believed would hang.
    "huge-prelude": ([*OPENING, _prelude(0xFFFFFFF0, 0)], True),
    "huge-first": ([_prelude(0xFFFFFFF0, 0)], True),
    "short-total": ([*OPENING, _prelude(10, 0) + b"\0" * 20], True),
    "header-overrun": ([*OPENING, _prelude(40, 200) + b"\0" * 28], True),
    "bad-prelude-crc": ([*OPENING, _bad_prelude_crc()], True),
    "bad-message-crc": ([*OPENING, _bad_message_crc()], True),
    "not-json": ([*OPENING, _payload_chunk(b"<html>oops</html>")], True),
    "not-base64": ([*OPENING, _payload_chunk(b'{"bytes": "!!!*** not base64 ***!!!"}')], True),
    "bytes-not-string": ([*OPENING, _payload_chunk(b'{"bytes": 12345}')], True),
    "inner-not-event": ([*OPENING, _payload_chunk(b'{"bytes": "WzEsMiwzXQ=="}')], True),
    "exception-mid": ([*OPENING, exception("modelStreamErrorException", "model broke")], False),
    "exception-first": ([exception("throttlingException", "slow down")], False),
    "cut-mid-frame": ([*OPENING, chunk(DELTA)[:30]], False),
    "ends-early": (OPENING, False),  # complete frames, but no message_stop: cut, not done
    "empty": ([], False),
}
CONVERSE: dict[str, tuple[list[bytes], bool]] = {
    "conv-ends-early": (
        [
            converse_event("messageStart", {"role": "assistant"}),
            converse_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
        ],
        False,
    ),
    "conv-not-object": (
        [
            converse_event("messageStart", {"role": "assistant"}),
            frame({":message-type": "event", ":event-type": "contentBlockDelta"}, b"[1, 2]"),
        ],
        True,
    ),
    "conv-exception": (
        [
            converse_event("messageStart", {"role": "assistant"}),
            exception("validationException", "bad stuff"),
        ],
        False,
    ),
}
CONVERSE["conv-text-number"] = (
    [
        converse_event("messageStart", {"role": "assistant"}),
        converse_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": 123}}),
        converse_event("contentBlockStop", {"contentBlockIndex": 0}),
        converse_event("messageStop", {"stopReason": "end_turn"}),
        converse_event("metadata", {"usage": {"inputTokens": 1, "outputTokens": 1}}),
    ],
    False,
)
CONVERSE["conv-huge-index"] = (
    [
        converse_event("messageStart", {"role": "assistant"}),
        converse_event(
            "contentBlockStart",
            {"contentBlockIndex": 10**12, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}},
        ),
        converse_event(
            "contentBlockDelta",
            {"contentBlockIndex": 10**12, "delta": {"toolUse": {"input": "{}"}}},
        ),
        converse_event("contentBlockStop", {"contentBlockIndex": 10**12}),
        converse_event("messageStop", {"stopReason": "tool_use"}),
        converse_event("metadata", {"usage": {"inputTokens": 1, "outputTokens": 1}}),
    ],
    False,
)
# Converse answers (not streamed) that are not what Converse answers.
CONVERSE_ANSWERS: dict[str, Any] = {
    "conv-text-object": {
        "output": {"message": {"role": "assistant", "content": [{"text": {"a": 1}}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1},
    },
    "conv-tool-input-list": {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": [1, 2]}}],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1, "outputTokens": 1},
    },
}
# Tiny frames no Anthropic stream has a place for, forever (written until the gateway leaves).
ENDLESS = frame({":message-type": "event", ":event-type": "unknownEvent"}, b"{}")


def _record(head: bytes, path: str, body: bytes) -> dict[str, Any]:
    record = {
        "head": head.decode("latin-1"),
        "path": path,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "closed": False,
    }
    _RECORDS.append(record)
    del _RECORDS[:-500]
    return record


def _headers(head: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            out.setdefault(name.strip().lower().decode("latin-1"), value.strip().decode("latin-1"))
    return out


def _model(path: str) -> tuple[str, str]:
    """(cloud, scenario) for a request path as sent."""
    bare = path.split("?", 1)[0]
    parts = bare.split("/")
    if len(parts) == 4 and parts[1] == "model":
        return "bedrock", unquote(parts[2]).removeprefix("anthropic.") + "|" + parts[3]
    if "/openai/deployments/" in bare:
        return "azure", unquote(bare.split("/openai/deployments/", 1)[1].split("/", 1)[0])
    if "/models/" in bare:
        model = unquote(bare.rsplit("/models/", 1)[1].split(":", 1)[0])
        return "vertex", model.removeprefix("claude-")
    return "", ""


Answer = tuple[int, str, list[bytes], bool]  # status, content type, chunks, hold


def _json(status: int, body: Any) -> Answer:
    return status, "application/json", [json.dumps(body).encode()], False


def _message(text: str) -> dict[str, Any]:
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1},
    }  # fmt: skip


# Azure's content-filter refusal of a prompt, as Azure OpenAI writes it.
FILTERED = {
    "code": "content_filter",
    "status": 400,
    "param": "prompt",
    "message": "The response was filtered due to the prompt triggering content management policy",
    "innererror": {
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {"hate": {"filtered": True, "severity": "high"}},
    },
}


def _chat(text: str) -> Answer:
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "finish_reason": "stop", "message": message}
    body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m"}
    return _json(200, {**body, "choices": [choice]})


def _answer(path: str, head: bytes, body: bytes) -> Answer:
    quoted = head.decode("latin-1")
    if "token-hang" in path:
        return 200, "application/json", [], True  # the head, then nothing
    if "token-huge" in path:
        return 200, "application/json", [b'{"access_token": "'], True  # then padding, forever
    if "token-list" in path:
        return _json(200, [TOKEN, 3600])
    if "token-garbage" in path:
        return 500, "text/html", [b"<html>token service down</html>"], False
    if "token-echo" in path:
        echo = body.decode("latin-1") + quoted
        return _json(400, {"error": "invalid_grant", "error_description": echo, "sent": echo})
    if path.endswith("/oauth2/v2.0/token") or path.startswith("/token"):
        token: Any = TOKEN + "\r\nx-injected: 1" if "crlf" in path else TOKEN
        token = 12345 if "number" in path else token
        lifetime = 10**30 if "overflow" in path else 3600
        return _json(200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"})
    cloud, scenario = _model(path)
    name, _, action = scenario.partition("|")
    if name == "echo":
        if cloud == "bedrock":
            return _json(400, {"message": "You sent: " + quoted})
        return _json(400, {"error": {"code": "400", "message": "You sent: " + quoted}})
    if name == "echo-ok":
        if cloud == "azure":
            return _chat(quoted)
        if cloud == "vertex":
            part = {"content": {"role": "model", "parts": [{"text": quoted}]},
                    "finishReason": "STOP"}  # fmt: skip
            return _json(200, {"candidates": [part]})
        return _json(200, _message(quoted))
    if cloud == "bedrock" and action in ("invoke-with-response-stream", "converse-stream"):
        if name == "endless":
            return 200, "application/vnd.amazon.eventstream", [], True
        chunks, hold = STREAMS.get(name) or CONVERSE.get(name) or STREAMS["ok"]
        return 200, "application/vnd.amazon.eventstream", chunks, hold
    if cloud == "bedrock" and action == "converse" and name in CONVERSE_ANSWERS:
        return _json(200, CONVERSE_ANSWERS[name])
    if cloud == "azure":
        return _json(400, {"error": FILTERED}) if name == "filtered" else _chat("ok")
    return _json(200, _message("ok"))


async def _write(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: Answer, name: str
) -> None:
    status, kind, chunks, hold = answer
    head = f"HTTP/1.1 {status} Hostile\r\ncontent-type: {kind}\r\n"
    if status >= 400 and kind == "application/json":
        head += "x-amzn-errortype: ValidationException:http://internal.amazon.com/coral/\r\n"
    writer.write(head.encode() + b"transfer-encoding: chunked\r\n\r\n")
    for piece in chunks:
        writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
        await writer.drain()
    if "token-huge" in name:
        pad = b"a" * 65536
        while True:
            writer.write(b"%x\r\n%b\r\n" % (len(pad), pad))
            await writer.drain()
    if name == "endless":
        endless = b"%x\r\n%b\r\n" % (len(ENDLESS), ENDLESS)
        while True:
            writer.write(endless * 64)
            await writer.drain()
            await asyncio.sleep(0.001)
    if hold:
        await reader.read()  # until the gateway closes the connection
        raise ConnectionError("closed by the gateway")
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def _length(head: bytes) -> int:
    value = _headers(head).get("content-length", "0")
    return int(value) if value.isdigit() else 0


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            body = await reader.readexactly(_length(head))
            path = head.split(b" ", 2)[1].decode("latin-1")
            if path == "/_hostile/requests":
                data = json.dumps(_RECORDS).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(data) + data)
                await writer.drain()
                continue
            record = _record(head, path, body)
            answer = _answer(path, head, body)
            name = _model(path)[1].partition("|")[0] or path
            try:
                await _write(reader, writer, answer, name)
            except ConnectionError:
                record["closed"] = True
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _main(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, limit=_MAX_HEAD)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(_main(args.port))


if __name__ == "__main__":
    main()
