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
import hmac
import re
from collections.abc import Mapping
from typing import Final

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
    if action not in ("invoke", "invoke-with-response-stream"):
        return error(404, "UnknownOperationException", "Unknown operation")
    if auth is not None and (refusal := _verify(raw_path, query, headers, body, auth)):
        return refusal
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return error(400, "ValidationException", "Malformed input request, please reformat.")
    if not isinstance(data, dict):
        return error(400, "ValidationException", "Malformed input request, please reformat.")
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
        try:
            message = orjson.loads(resp.body or b"{}")["error"]["message"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            message = "error"
        status = 503 if resp.status == 529 else resp.status
        name = _EXCEPTIONS.get(resp.status, "InternalServerException")
        out = error(status, name, str(message))
        out.headers.extend(h for h in resp.headers if h[0] == "retry-after")
        return out
    if resp.frames is None:
        return resp
    resp.frames = [_message(frame) for frame in resp.frames]
    resp.headers = [
        *(h for h in resp.headers if h[0] != "content-type"),
        ("content-type", "application/vnd.amazon.eventstream"),
        ("x-amzn-bedrock-content-type", "application/json"),
    ]
    return resp


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
