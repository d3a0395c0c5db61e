"""The clouds' wire formats in the mock: Azure OpenAI, Google Vertex AI, AWS Bedrock, and the
token endpoints of Microsoft Entra ID and Google OAuth.

Each cloud route is rewritten into the native request the engine already answers (an Azure
deployment is an OpenAI chat with the deployment as model, a Vertex Gemini call a Gemini call,
a Vertex or Bedrock Claude call an Anthropic Messages call), and the answer is rewrapped where
the cloud's differs (Azure's filter results, Bedrock's event-stream framing and error shape).

With :class:`CloudAuth` (``turnout mock --clouds FILE``) the mock checks credentials as the
clouds do, so a gateway test proves its signing and tokens rather than their mere presence:
an Azure ``api-key`` must be one of the file's, a bearer token must be one this mock issued
(Entra ID: for the file's client id and secret; Google: for a JWT assertion signed by the
service account's private key, verified with its public key by google-auth), and a Bedrock
request must carry a SigV4 signature that botocore, given the file's secret, computes the same.
Without it every credential is accepted, as the native routes do.

Tokens are stateless: ``mock.<kind>.<expiry>.<hmac>``, checked against the mock's own random
secret, so any process restart invalidates them (as a rotated key would).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote

import orjson

from turnout.mock import engine
from turnout.mock.engine import JSON, MockResponse, MockSettings

__all__ = ["CloudAuth", "is_cloud_path", "respond"]

TOKEN_LIFETIME: Final = 3599
_AZURE_DEPLOYMENTS: Final = "/openai/deployments/"
_AZURE_V1: Final = "/openai/v1/"
_AZURE_OPS: Final = {"chat/completions": "/v1/chat/completions", "embeddings": "/v1/embeddings"}
_VERTEX_PREFIXES: Final = ("/v1/projects/", "/v1beta1/projects/")
_ENTRA_SUFFIX: Final = "/oauth2/v2.0/token"
_GOOGLE_TOKEN: Final = "/token"
_JWT_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_FILTERS: Final = {
    cat: {"filtered": False, "severity": "safe"}
    for cat in ("hate", "self_harm", "sexual", "violence")
}


@dataclass(frozen=True, slots=True)
class CloudAuth:
    """The credentials the mock's clouds accept (a JSON or YAML file; every part optional)."""

    azure_api_keys: frozenset[str] = frozenset()
    azure_client_id: str | None = None
    azure_client_secret: str | None = None
    google_client_email: str | None = None
    google_public_key: str | None = None  # PEM of the service account's key
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    secret: bytes = field(default_factory=lambda: os.urandom(32))

    @classmethod
    def load(cls, path: Path) -> CloudAuth:
        import yaml

        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping")
        azure = data.get("azure") or {}
        google = data.get("google") or {}
        aws = data.get("aws") or {}
        return cls(
            azure_api_keys=frozenset(azure.get("api_keys") or ()),
            azure_client_id=azure.get("client_id"),
            azure_client_secret=azure.get("client_secret"),
            google_client_email=google.get("client_email"),
            google_public_key=google.get("public_key"),
            aws_access_key_id=aws.get("access_key_id"),
            aws_secret_access_key=aws.get("secret_access_key"),
        )

    # -- stateless tokens ----------------------------------------------------------------------
    def issue(self, kind: str) -> str:
        expiry = int(time.time()) + TOKEN_LIFETIME
        return f"mock.{kind}.{expiry}.{self._mac(kind, expiry)}"

    def valid(self, token: str, kind: str) -> bool:
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != "mock" or parts[1] != kind or not parts[2].isdigit():
            return False
        expiry = int(parts[2])
        return expiry > time.time() and hmac.compare_digest(parts[3], self._mac(kind, expiry))

    def _mac(self, kind: str, expiry: int) -> str:
        return hmac.new(self.secret, f"{kind}.{expiry}".encode(), hashlib.sha256).hexdigest()


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def is_cloud_path(path: str) -> bool:
    return (
        path.startswith(("/openai/", *_VERTEX_PREFIXES, "/model/"))
        or path.endswith(_ENTRA_SUFFIX)
        or path == _GOOGLE_TOKEN
    )


def respond(
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    settings: MockSettings,
    auth: CloudAuth | None,
) -> MockResponse:
    """The answer to one cloud request (``raw_path`` as sent: Bedrock signs it encoded)."""
    path = unquote(raw_path)
    if method != "POST":
        return _json(405, {"error": {"code": "405", "message": f"{method} not allowed"}})
    if path.endswith(_ENTRA_SUFFIX):
        return _entra_token(body, auth)
    if path == _GOOGLE_TOKEN:
        return _google_token(body, auth)
    if path.startswith("/openai/"):
        return _azure(path, query, headers, body, settings, auth)
    if path.startswith(_VERTEX_PREFIXES):
        return _vertex(path, query, headers, body, settings, auth)
    from turnout.mock import bedrock

    return bedrock.respond(raw_path, query, headers, body, settings, auth)


def _json(status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> MockResponse:
    return MockResponse(status, [("content-type", JSON), *(extra or [])], orjson.dumps(payload))


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items()}


def _bearer(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization", "")
    return value[7:] if value[:7].lower() == "bearer " else ""


# -- token endpoints ---------------------------------------------------------------------------
def _entra_token(body: bytes, auth: CloudAuth | None) -> MockResponse:
    form = _form(body)
    if form.get("grant_type") != "client_credentials":
        return _json(400, {"error": "unsupported_grant_type"})
    if auth is not None and (
        form.get("client_id") != auth.azure_client_id
        or not hmac.compare_digest(form.get("client_secret", ""), auth.azure_client_secret or "")
    ):
        desc = "AADSTS7000215: Invalid client secret provided."
        return _json(401, {"error": "invalid_client", "error_description": desc})
    token = (auth or CloudAuth()).issue("entra")
    payload = {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "access_token": token}
    return _json(200, {**payload, "ext_expires_in": TOKEN_LIFETIME})


def _google_token(body: bytes, auth: CloudAuth | None) -> MockResponse:
    form = _form(body)
    if form.get("grant_type") != _JWT_GRANT:
        return _json(400, {"error": "unsupported_grant_type"})
    if auth is not None:
        from google.auth import exceptions, jwt

        try:
            claims = jwt.decode(  # type: ignore[no-untyped-call]
                form.get("assertion", ""), certs=auth.google_public_key or ""
            )
        except (exceptions.GoogleAuthError, ValueError):
            return _json(400, {"error": "invalid_grant", "error_description": "Invalid JWT."})
        if claims.get("iss") != auth.google_client_email:
            return _json(400, {"error": "invalid_grant", "error_description": "Invalid issuer."})
    token = (auth or CloudAuth()).issue("google")
    return _json(200, {"access_token": token, "expires_in": TOKEN_LIFETIME, "token_type": "Bearer"})


# -- Azure OpenAI ------------------------------------------------------------------------------
def _azure_error(status: int, code: str, message: str) -> MockResponse:
    return _json(status, {"error": {"code": code, "message": message}})


def _azure(
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    settings: MockSettings,
    auth: CloudAuth | None,
) -> MockResponse:
    deployment: str | None = None
    if path.startswith(_AZURE_DEPLOYMENTS):
        deployment, _, op = path[len(_AZURE_DEPLOYMENTS) :].partition("/")
        if not parse_qs(query).get("api-version"):
            return _azure_error(404, "404", "Resource not found")
    elif path.startswith(_AZURE_V1):
        op = path[len(_AZURE_V1) :]
    else:
        op = ""
    native = _AZURE_OPS.get(op)
    if native is None or deployment == "":
        return _azure_error(404, "404", "Resource not found")
    if auth is not None:
        key, token = headers.get("api-key"), _bearer(headers)
        if not (key in auth.azure_api_keys or (token and auth.valid(token, "entra"))):
            message = (
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource."
            )
            return _azure_error(401, "401", message)
    if headers.get("x-mock-content-filter"):
        return _json(
            400,
            {
                "error": {
                    "message": "The response was filtered due to the prompt triggering Azure "
                    "OpenAI's content management policy.",
                    "type": None,
                    "param": "prompt",
                    "code": "content_filter",
                    "status": 400,
                    "innererror": {
                        "code": "ResponsibleAIPolicyViolation",
                        "content_filter_result": {
                            **_FILTERS,
                            "violence": {"filtered": True, "severity": "high"},
                        },
                    },
                }
            },
        )
    if deployment is not None:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict):  # Azure answers for the deployment whatever the body says
            body = orjson.dumps({**data, "model": deployment})
    resp = engine.respond("POST", native, "", headers, body, settings)
    if resp.status < 300 and native == "/v1/chat/completions":
        _azure_filters(resp)
    return resp


def _azure_filters(resp: MockResponse) -> None:
    """Azure adds prompt and completion filter results: in a body, and as a first stream chunk
    with no choices at all (which a client must take in its stride)."""
    prompt = [{"prompt_index": 0, "content_filter_results": _FILTERS}]
    if resp.frames is not None:
        first = {"id": "", "object": "", "created": 0, "model": "", "choices": []}
        frame = b"data: " + orjson.dumps({**first, "prompt_filter_results": prompt}) + b"\n\n"
        resp.frames.insert(0, frame)
        return
    try:
        data = orjson.loads(resp.body or b"")
    except orjson.JSONDecodeError:
        return  # a malformed fault body stays malformed
    if isinstance(data, dict) and isinstance(data.get("choices"), list):
        for choice in data["choices"]:
            if isinstance(choice, dict):
                choice["content_filter_results"] = _FILTERS
        data["prompt_filter_results"] = prompt
        resp.body = orjson.dumps(data)


# -- Vertex AI ---------------------------------------------------------------------------------
def _vertex_error(status: int, message: str) -> MockResponse:
    statuses = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
    err = {"code": status, "message": message, "status": statuses.get(status, "NOT_FOUND")}
    return _json(status, {"error": err})


def _vertex(
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    settings: MockSettings,
    auth: CloudAuth | None,
) -> MockResponse:
    # /v1/projects/{p}/locations/{l}/publishers/{publisher}/models/{model}:{action}
    parts = path.split("/")
    if len(parts) != 10 or parts[4] != "locations" or parts[6] != "publishers":
        return _vertex_error(404, "The requested URL was not found on this server.")
    if parts[8] != "models" or ":" not in parts[9] or not parts[3] or not parts[5]:
        return _vertex_error(404, "The requested URL was not found on this server.")
    publisher = parts[7]
    model, _, action = parts[9].rpartition(":")
    if auth is not None and not auth.valid(_bearer(headers), "google"):
        message = (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential."
        )
        return _vertex_error(401, message)
    if publisher == "google":
        native_path = f"/v1beta/models/{model}:{action}"
        return engine.respond("POST", native_path, query, headers, body, settings)
    if publisher != "anthropic" or action not in ("rawPredict", "streamRawPredict"):
        return _vertex_error(404, f"Publisher model {publisher}/{model} was not found.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _vertex_error(400, "Invalid JSON payload received.")
    if not isinstance(data, dict) or not isinstance(data.get("anthropic_version"), str):
        return _vertex_error(400, "anthropic_version: Field required (vertex-2023-10-16).")
    data.pop("anthropic_version")
    native = orjson.dumps({**data, "model": model})
    return engine.respond("POST", "/v1/messages", "", headers, native, settings)
