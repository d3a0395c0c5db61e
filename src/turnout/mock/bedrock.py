"""AWS Bedrock in the mock: InvokeModel and InvokeModelWithResponseStream for Anthropic's
models, SigV4 checked with botocore, answers in Bedrock's framing and error shapes.

A request must carry a signature that botocore, given the mock's secret for the request's access
key id, computes the same (:class:`~turnout.mock.clouds.CloudAuth`); an unknown key id is
Bedrock's ``UnrecognizedClientException``, a wrong secret its ``InvalidSignatureException``
(both 403). The body is Anthropic's without ``model`` and ``stream`` (Bedrock refuses them)
and with ``anthropic_version``. Stream frames become event-stream ``chunk`` messages with the
Anthropic event base64-encoded in ``bytes``; an in-band error becomes an ``exception`` message,
and the ``malformed`` fault a message whose checksum is wrong.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from turnout.mock import engine
from turnout.mock.clouds import CloudAuth
from turnout.mock.engine import JSON, MockResponse, MockSettings
from turnout.providers.eventstream import encode

_AUTH: Final = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/([^/,]+)/aws4_request, ?"
    r"SignedHeaders=([a-z0-9\-;]+), ?Signature=([0-9a-f]{64})"
)
_EXCEPTIONS: Final = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
    529: "ServiceUnavailableException",
}
_SUFFIX: Final = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


def error(status: int, name: str, message: str) -> MockResponse:
    headers = [("content-type", JSON), ("x-amzn-errortype", name + _SUFFIX)]
    return MockResponse(status, headers, orjson.dumps({"message": message}))


def _verify(
    raw_path: str, query: str, headers: Mapping[str, str], body: bytes, auth: CloudAuth
) -> MockResponse | None:
    match = _AUTH.fullmatch(headers.get("authorization", ""))
    if match is None:
        return error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    key_id, _, region, service, signed, signature = match.groups()
    if key_id != auth.aws_access_key_id:
        message = "The security token included in the request is invalid."
        return error(403, "UnrecognizedClientException", message)
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    names = signed.split(";")
    url = f"http://{headers.get('host', '')}{raw_path}" + (f"?{query}" if query else "")
    request = AWSRequest(
        method="POST", url=url, data=body, headers={n: headers.get(n, "") for n in names}
    )
    request.context["timestamp"] = headers.get("x-amz-date", "")
    creds = Credentials(
        key_id, auth.aws_secret_access_key or "", headers.get("x-amz-security-token")
    )
    signer = SigV4Auth(creds, service, region)
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, signature):
        message = (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
        return error(403, "InvalidSignatureException", message)
    return None


def respond(
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    settings: MockSettings,
    auth: CloudAuth | None,
) -> MockResponse:
    from urllib.parse import unquote

    parts = raw_path.split("/")  # "", "model", "{id}", "invoke"
    if len(parts) != 4 or parts[1] != "model" or not parts[2]:
        return error(404, "UnknownOperationException", "Unknown operation")
    model, action = unquote(parts[2]), parts[3]
    actions = ("invoke", "invoke-with-response-stream", "converse", "converse-stream")
    if action not in actions:
        return error(404, "UnknownOperationException", "Unknown operation")
    if auth is not None and (refusal := _verify(raw_path, query, headers, body, auth)):
        return refusal
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return error(400, "ValidationException", "Malformed input request, please reformat.")
    if not isinstance(data, dict):
        return error(400, "ValidationException", "Malformed input request, please reformat.")
    if action.startswith("converse"):
        return converse(model, action == "converse-stream", data, headers, settings)
    extraneous = [k for k in ("model", "stream") if k in data]
    if extraneous:
        message = f"Malformed input request: extraneous key [{extraneous[0]}] is not permitted"
        return error(400, "ValidationException", message)
    if not isinstance(data.pop("anthropic_version", None), str):
        message = "Malformed input request: #: required key [anthropic_version] not found"
        return error(400, "ValidationException", message)
    stream = action == "invoke-with-response-stream"
    native = orjson.dumps({**data, "model": model, "stream": stream})
    resp = engine.respond("POST", "/v1/messages", "", headers, native, settings)
    if resp.status >= 400:
        return _as_bedrock_error(resp)
    if resp.frames is None:
        return resp
    resp.frames = [_message(frame) for frame in resp.frames]
    resp.headers = [
        *(h for h in resp.headers if h[0] != "content-type"),
        ("content-type", "application/vnd.amazon.eventstream"),
        ("x-amzn-bedrock-content-type", "application/json"),
    ]
    return resp


def _as_bedrock_error(resp: MockResponse) -> MockResponse:
    try:
        message = orjson.loads(resp.body or b"{}")["error"]["message"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = "error"
    status = 503 if resp.status == 529 else resp.status
    name = _EXCEPTIONS.get(resp.status, "InternalServerException")
    out = error(status, name, str(message))
    out.headers.extend(h for h in resp.headers if h[0] == "retry-after")
    return out


def _message(frame: bytes) -> bytes:
    """One Anthropic SSE frame as one event-stream message."""
    data = b""
    for line in frame.split(b"\n"):
        if line.startswith(b"data: "):
            data = line[6:]
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        good = encode({":event-type": "chunk", ":message-type": "event"}, b"{}")
        return good[:-4] + b"\x00\x00\x00\x00"  # a wrong checksum: what a corrupt proxy sends
    if isinstance(event, dict) and event.get("type") == "error":
        payload = orjson.dumps({"message": "The model produced an error mid-stream."})
        headers = {
            ":exception-type": "modelStreamErrorException",
            ":content-type": "application/json",
            ":message-type": "exception",
        }
        return encode(headers, payload)
    payload = orjson.dumps({"bytes": base64.b64encode(data).decode(), "p": "abcdefgh"})
    headers = {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode(headers, payload)


# -- Converse ----------------------------------------------------------------------------------
_FORMATS: Final = {"png", "jpeg", "gif", "webp"}
_STOPS: Final = {"refusal": "content_filtered"}


def _from_converse_block(block: Any) -> dict[str, Any]:
    if not isinstance(block, dict):
        raise ValueError("a content block must be an object")
    if "text" in block:
        return {"type": "text", "text": str(block["text"])}
    if "image" in block:
        image = block["image"]
        fmt = image.get("format")
        if fmt not in _FORMATS:
            raise ValueError("image.format must be png, jpeg, gif or webp")
        data = (image.get("source") or {}).get("bytes")
        source = {"type": "base64", "media_type": f"image/{fmt}", "data": data}
        return {"type": "image", "source": source}
    if "toolUse" in block:
        use = block["toolUse"]
        return {"type": "tool_use", "id": use["toolUseId"], "name": use["name"],
                "input": use.get("input") or {}}  # fmt: skip
    if "toolResult" in block:
        result = block["toolResult"]
        parts = [
            {
                "type": "text",
                "text": p["text"] if "text" in p else orjson.dumps(p.get("json")).decode(),
            }
            for p in result.get("content") or []
        ]
        return {"type": "tool_result", "tool_use_id": result["toolUseId"], "content": parts}
    raise ValueError(f"unknown content block {sorted(block)}")


def _anthropic_request(data: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """A Converse body as the Anthropic request the engine answers (ValueError/KeyError/TypeError
    for what Bedrock would refuse)."""
    messages = [
        {"role": m["role"], "content": [_from_converse_block(b) for b in m["content"]]}
        for m in data["messages"]
    ]
    config = data.get("inferenceConfig") or {}
    out: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": config.get("maxTokens", 1024),
        "stream": stream,
    }
    if data.get("system"):
        out["system"] = "".join(str(s.get("text", "")) for s in data["system"])
    tool_config = data.get("toolConfig")
    if tool_config:
        out["tools"] = [
            {"name": t["toolSpec"]["name"], "description": t["toolSpec"].get("description", ""),
             "input_schema": t["toolSpec"]["inputSchema"]["json"]}
            for t in tool_config["tools"]
        ]  # fmt: skip
        choice = tool_config.get("toolChoice") or {}
        if "any" in choice:
            out["tool_choice"] = {"type": "any"}
        elif "tool" in choice:
            out["tool_choice"] = {"type": "tool", "name": choice["tool"]["name"]}
    return out


def _converse_usage(usage: dict[str, Any]) -> dict[str, int]:
    inp, outp = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    return {"inputTokens": inp, "outputTokens": outp, "totalTokens": inp + outp}


def _converse_body(body: bytes) -> bytes:
    message = orjson.loads(body)
    content: list[dict[str, Any]] = []
    for block in message["content"]:
        if block["type"] == "text":
            content.append({"text": block["text"]})
        elif block["type"] == "tool_use":
            content.append({"toolUse": {"toolUseId": block["id"], "name": block["name"],
                                        "input": block["input"]}})  # fmt: skip
    stop = message.get("stop_reason") or "end_turn"
    return orjson.dumps(
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": _STOPS.get(stop, stop),
            "usage": _converse_usage(message.get("usage") or {}),
            "metrics": {"latencyMs": 1},
        }
    )


def _event(kind: str, body: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": JSON, ":message-type": "event"}
    return encode(headers, orjson.dumps({**body, "p": "abcdefgh"}))


class _ConverseFrames:
    """Anthropic SSE frames as ConverseStream events."""

    def __init__(self) -> None:
        self.input_tokens = 0

    def convert(self, frame: bytes) -> bytes:
        data = b""
        for line in frame.split(b"\n"):
            if line.startswith(b"data: "):
                data = line[6:]
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return _message(frame)  # the malformed fault: a corrupt message, as for InvokeModel
        kind = event.get("type")
        if kind == "message_start":
            self.input_tokens = int(event["message"]["usage"].get("input_tokens", 0))
            return _event("messageStart", {"role": "assistant"})
        index = event.get("index", 0)
        if kind == "content_block_start":
            block = event["content_block"]
            if block["type"] == "tool_use":
                start = {"toolUse": {"toolUseId": block["id"], "name": block["name"]}}
                return _event("contentBlockStart", {"start": start, "contentBlockIndex": index})
            return b""
        if kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                piece: dict[str, Any] = {"text": delta["text"]}
            elif delta["type"] == "input_json_delta":
                piece = {"toolUse": {"input": delta["partial_json"]}}
            elif delta["type"] == "thinking_delta":
                piece = {"reasoningContent": {"text": delta["thinking"]}}
            else:
                return b""
            return _event("contentBlockDelta", {"delta": piece, "contentBlockIndex": index})
        if kind == "content_block_stop":
            return _event("contentBlockStop", {"contentBlockIndex": index})
        if kind == "message_delta":
            stop = event["delta"].get("stop_reason") or "end_turn"
            usage = {"input_tokens": self.input_tokens, **(event.get("usage") or {})}
            usage["input_tokens"] = usage.get("input_tokens") or self.input_tokens
            metadata = {"usage": _converse_usage(usage), "metrics": {"latencyMs": 1}}
            stop_event = _event("messageStop", {"stopReason": _STOPS.get(stop, stop)})
            return stop_event + _event("metadata", metadata)
        if kind == "error":
            return _message(frame)
        return b""


def converse(
    model: str,
    stream: bool,
    data: dict[str, Any],
    headers: Mapping[str, str],
    settings: MockSettings,
) -> MockResponse:
    try:
        native = _anthropic_request(data, model, stream)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return error(400, "ValidationException", f"Malformed input request: {exc}")
    resp = engine.respond("POST", "/v1/messages", "", headers, orjson.dumps(native), settings)
    if resp.status >= 400:
        return _as_bedrock_error(resp)
    if resp.frames is None:
        if resp.body is not None and resp.fault is None:
            # a malformed fault body stays malformed
            with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                resp.body = _converse_body(resp.body)
        return resp
    frames = _ConverseFrames()
    resp.frames = [out for f in resp.frames if (out := frames.convert(f))]
    resp.headers = [
        *(h for h in resp.headers if h[0] != "content-type"),
        ("content-type", "application/vnd.amazon.eventstream"),
    ]
    return resp
