"""Google AI Studio (Gemini API).

``base_url`` is the bare origin (``https://generativelanguage.googleapis.com``). The model lives
in the URL (``/v1beta/models/{model}:{action}``), so a same-protocol body is forwarded as
received even when the deployment renames the model. The key travels only in the
``x-goog-api-key`` header: a ``?key=`` query would end up in every proxy's access log.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.names import path_segment
from turnout.protocols.gemini.routes import sse_requested
from turnout.providers.base import HTTPProvider
from turnout.providers.descriptor import Auth, ProviderType, rules, template
from turnout.types import Call

DEFAULT_VERSION = "v1beta"
_VERSIONS = ("v1beta", "v1", "v1alpha")


def _version(path: str) -> str:
    """Keep the client's API version on a same-protocol call: v1 and v1beta accept
    different fields, and the client's SDK wrote its body for the one it called."""
    for version in _VERSIONS:
        if path.startswith(f"/{version}/"):
            return version
    return DEFAULT_VERSION


def _rename(data: dict[str, Any], model: str) -> dict[str, Any]:
    """Only where Gemini reads a model name: never inside contents (tool args may say "model")."""
    out = dict(data)
    if "model" in out:
        out["model"] = model
    inner = out.get("generateContentRequest")
    if isinstance(inner, dict) and "model" in inner:
        out["generateContentRequest"] = {**inner, "model": model}
    requests = out.get("requests")
    if isinstance(requests, list):
        out["requests"] = [
            {**r, "model": model} if isinstance(r, dict) and "model" in r else r for r in requests
        ]
    return out


class GeminiProvider(HTTPProvider):
    def url(self, call: Call, upstream_model: str) -> str:
        # The model is one path segment whatever it contains: a name from the client (a "*"
        # deployment) can never walk the path or start a query (turnout.names).
        model = path_segment(upstream_model.removeprefix("models/"))
        action = call.operation
        query = ""
        if action == "generateContent" and call.stream:
            action = "streamGenerateContent"
            if sse_requested(call):
                query = "?alt=sse"
        return f"{self.spec.base_url}/{_version(call.path)}/models/{model}:{action}{query}"

    def native_body(self, call: Call, upstream_model: str) -> bytes:
        """A body may name the model besides the URL: count and embed bodies inside
        (``generateContentRequest.model``, ``requests[].model``), and a generation body at its
        top (``GenerateContentRequest.model``, which SDKs leave out). Each must say what the
        URL says: before (2026-12-07) a generation body's own ``model`` went upstream as the
        client wrote it, beside the routed model in the URL. A generation body is looked at
        with one dict lookup (its contents say ``"model"`` as a role, so bytes would not do)."""
        if call.operation == "generateContent":
            if "model" not in call.data:
                return call.body
        elif b'"model"' not in call.body:
            return call.body
        return orjson.dumps(_rename(call.data, "models/" + upstream_model.removeprefix("models/")))


# Gemini says "API key not valid" in a 400, and puts context length and quota in messages.
# A key or account verdict is read from structured fields or a message's fixed opening, never
# searched for in free text: a 400 quotes what the client sent (`Unknown name "quota"`), and
# a client must not be able to mark the gateway's key for everyone (docs/security.md).
GEMINI_RULES = rules(
    {"status": 400, "path": "error.details.0.reason", "match": "^API_KEY_(INVALID|EXPIRED)$",
     "reason": "invalid_key"},
    {"status": 400, "path": "error.details.1.reason", "match": "^API_KEY_(INVALID|EXPIRED)$",
     "reason": "invalid_key"},
    {"status": 400, "path": "error.message", "match": "^API key (not valid|expired)",
     "reason": "invalid_key"},
    {"status": 400, "path": "error.message",
     "match": "(?i)exceeds the maximum number of tokens|input token count",
     "reason": "context_length"},
    # Billing not enabled, free tier not offered where the account is: the account's state.
    {"status": 400, "path": "error.status", "match": "^FAILED_PRECONDITION$",
     "reason": "no_quota"},
)  # fmt: skip

GEMINI = ProviderType(
    name="gemini",
    protocol="gemini",
    provider=GeminiProvider,
    base_url="https://generativelanguage.googleapis.com",
    auth=Auth("x-goog-api-key"),  # never ?key=: it would end up in every proxy's access log
    error_rules=GEMINI_RULES,
    template=template("gemini", "https://generativelanguage.googleapis.com", "GEMINI_API_KEY"),
    otel_name="gcp.gemini",
    key_env="GEMINI_API_KEY",
    zero_config_models=("gemini-*", "gemma-*", "text-embedding-0*"),
    summary="Google AI Studio (Gemini API)",
)
