"""The mock provider's brain: one request in, one response description out. Pure, no I/O.

Both the HTTP server (:mod:`turnout.mock.server`) and the gateway's in-process ``mock``
provider call :func:`respond`, so a test against either sees byte-identical answers::

    resp = respond("POST", "/v1/chat/completions", "", headers, body, MockSettings())
    if resp.frames is None:
        payload = await read_body(resp)          # applies ttft and non-stream faults
    else:
        async for frame in iter_frames(resp):    # applies ttft, chunk delays, faults
            ...

``headers`` must have lowercase names. :class:`MockResponse` carries the status, the
response headers (without framing headers: the server adds ``content-length`` or
``transfer-encoding``), and either ``body`` or ``frames`` (complete SSE frames, or JSON array
pieces for Gemini streams without ``alt=sse``). Faults that change bytes (``malformed``,
``truncate``, ``error-midstream``) are already applied to ``body``/``frames``; faults that
change timing or the connection (``hang``, ``disconnect``, and ``truncate`` of a non-stream
body) are left in ``fault`` for :mod:`turnout.mock.timing` and the server to act on.

Echo headers let a gateway test observe what reached the upstream without a capture:
``x-mock-request-model``, ``x-mock-auth`` (style only, never the key), ``x-mock-images-received``,
``x-mock-signatures-received`` and ``x-mock-endpoint`` (which API answered: ``chat``,
``responses``, ``messages``, ``generateContent``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, Literal
from urllib.parse import parse_qs

import orjson

from turnout.mock import anthropic, gemini, openai, operations, responses
from turnout.mock.content import estimate_tokens, new_uid
from turnout.mock.faults import error_frame, fault_cut, garbage
from turnout.mock.plan import Facts, Plan, RequestError, make_plan
from turnout.mock.settings import Fault, MockSettings, SettingsError, apply_overrides
from turnout.mock.skills import request_prompt

__all__ = [
    "DEFAULT_SETTINGS",
    "Fault",
    "MockResponse",
    "MockSettings",
    "Route",
    "error_response",
    "fault_cut",
    "match_route",
    "respond",
]

Protocol = Literal["openai", "anthropic", "gemini"]
DEFAULT_SETTINGS: Final = MockSettings()
JSON: Final = "application/json"
SSE: Final = "text/event-stream"
_GEMINI_ACTIONS: Final = frozenset(
    {
        "generateContent",
        "streamGenerateContent",
        "countTokens",
        "embedContent",
        "batchEmbedContents",
    }
)
_GEMINI_PREFIXES: Final = ("/v1beta/models/", "/v1/models/", "/v1alpha/models/", "/models/")
_MALFORMED_BODY: Final = b'{"id": "mock-malformed", "choices": [{"message": '


@dataclass(slots=True)
class MockResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | None = None
    frames: list[bytes] | None = None
    ttft_ms: float = 0.0
    chunk_ms: float = 0.0
    fault: Fault | None = None
    uid: str | None = None
    """Random id fragment inside body and headers; a server may splice in a fresh one."""

    @property
    def stream(self) -> bool:
        return self.frames is not None


@dataclass(frozen=True, slots=True)
class Route:
    protocol: Protocol
    action: str
    method: str
    model: str | None = None


_STATIC_ROUTES: Final = {
    "/v1/chat/completions": Route("openai", "chat", "POST"),
    "/chat/completions": Route("openai", "chat", "POST"),
    "/v1/embeddings": Route("openai", "embeddings", "POST"),
    "/embeddings": Route("openai", "embeddings", "POST"),
    "/v1/models": Route("openai", "models", "GET"),
    "/models": Route("openai", "models", "GET"),
    "/v1/responses": Route("openai", "responses", "POST"),
    "/v1/responses/input_tokens": Route("openai", "input_tokens", "POST"),
    "/responses": Route("openai", "responses", "POST"),
    "/v1/messages": Route("anthropic", "messages", "POST"),
    "/v1/messages/count_tokens": Route("anthropic", "count_tokens", "POST"),
    **{p: Route("openai", action, "POST") for p, action in operations.PATHS.items()},
}


def match_route(path: str) -> Route | None:
    """Map a request path to the endpoint it names; ``None`` for paths no provider has."""
    route = _STATIC_ROUTES.get(path)
    if route is not None:
        return route
    for prefix in _GEMINI_PREFIXES:
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            if ":" in rest:
                model, _, action = rest.rpartition(":")
                if model and action in _GEMINI_ACTIONS:
                    return Route("gemini", action, "POST", model)
                return None
            if rest and "/" not in rest and prefix in ("/v1/models/", "/models/"):
                return Route("openai", "model", "GET", rest)
            return None
    return None


def guess_protocol(path: str) -> Protocol:
    """Dialect for errors on unknown paths, so even a 404 parses in the caller's SDK."""
    if ":" in path or path.startswith("/v1beta"):
        return "gemini"
    return "anthropic" if path.startswith("/v1/messages") else "openai"


def auth_style(headers: Mapping[str, str], query: str) -> str:
    """Which credential styles the request used, never the credential itself."""
    styles = []
    if (value := headers.get("authorization")) is not None:
        styles.append("bearer" if value[:7].lower() == "bearer " else "authorization")
    if "x-api-key" in headers:
        styles.append("x-api-key")
    if "x-goog-api-key" in headers:
        styles.append("x-goog-api-key")
    if "api-key" in headers:  # Azure's
        styles.append("api-key")
    if query and "key" in parse_qs(query):
        styles.append("query-key")
    return ",".join(styles) or "none"


def _header_value(value: str) -> str:
    """Keep echoed values printable ASCII so a hostile model name cannot split headers."""
    if value.isascii() and value.isprintable() and len(value) <= 256:
        return value
    return "".join(c if " " <= c <= "~" else "?" for c in value[:256])


def _error_body(
    protocol: Protocol, status: int, message: str, uid: str, param: str | None
) -> bytes:
    if protocol == "anthropic":
        return anthropic.error_body(status, message, uid)
    if protocol == "gemini":
        return gemini.error_body(status, message)
    return openai.error_body(status, message, param)


def _phrase(status: int) -> str:
    if status == 529:
        return "Overloaded"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Mock error"


def _id_headers(protocol: Protocol, uid: str) -> list[tuple[str, str]]:
    if protocol == "anthropic":
        return [("request-id", f"req_{uid}")]
    if protocol == "openai":
        return [("x-request-id", f"req_{uid}")]
    return []


class _Rejection(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


def respond(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    settings: MockSettings = DEFAULT_SETTINGS,
) -> MockResponse:
    """Describe the response to one request; never raises for anything a client can send."""
    uid = new_uid()
    route = match_route(path)
    protocol = route.protocol if route is not None else guess_protocol(path)
    echo = [("x-mock-auth", auth_style(headers, query))]
    if route is None or method != route.method:
        status = 404 if route is None or method == "HEAD" else 405
        message = f"Unknown request URL: {method} {path}"
        out = [("content-type", JSON), *_id_headers(protocol, uid), *echo]
        return MockResponse(status, out, _error_body(protocol, status, message, uid, None), uid=uid)
    try:
        # Listings ignore server-wide knobs so they keep working as a readiness probe of a
        # mock started with, say, --status 503; per-request headers still apply.
        base = DEFAULT_SETTINGS if method == "GET" else settings
        try:
            s = apply_overrides(base, headers)
        except SettingsError as exc:
            raise _Rejection(400, str(exc)) from None
        obj: dict[str, Any] = {}
        if route.action in operations.FORMS:  # a multipart form, read by operations.py
            obj = {"_form": body, "_type": headers.get("content-type", "")}
        elif method == "POST":
            obj = _parse_json(body)
        return _dispatch(route, query, obj, s, uid, echo)
    except _Rejection as exc:
        out = [("content-type", JSON), *_id_headers(protocol, uid), *echo]
        body_out = _error_body(protocol, exc.status, exc.message, uid, exc.param)
        return MockResponse(exc.status, out, body_out, uid=uid)


def error_response(path: str, status: int, message: str) -> MockResponse:
    """An error in the dialect of ``path``, for failures found before :func:`respond` runs
    (an oversized or unparsable request)."""
    uid = new_uid()
    route = match_route(path)
    protocol = route.protocol if route is not None else guess_protocol(path)
    out = [("content-type", JSON), *_id_headers(protocol, uid)]
    return MockResponse(status, out, _error_body(protocol, status, message, uid, None), uid=uid)


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _Rejection(400, f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(obj, dict):
        raise _Rejection(400, "The request body must be a JSON object.")
    return obj


def _dispatch(
    route: Route,
    query: str,
    obj: dict[str, Any],
    s: MockSettings,
    uid: str,
    echo: list[tuple[str, str]],
) -> MockResponse:
    protocol = route.protocol
    model = route.model or obj.get("model")
    headers = [*_id_headers(protocol, uid), *echo, ("x-mock-endpoint", route.action)]
    if isinstance(model, str):
        headers.append(("x-mock-request-model", _header_value(model)))
    if s.status != 200:
        if s.retry_after is not None:
            seconds = s.retry_after
            headers.append(
                ("retry-after", str(int(seconds)) if seconds.is_integer() else str(seconds))
            )
        message = f"Mock {s.status}: {_phrase(s.status)}"
        body = _error_body(protocol, s.status, message, uid, None)
        return _finish(MockResponse(s.status, headers, body, uid=uid), s, protocol)
    try:
        if route.action in operations.ACTIONS:
            return _finish(_operation(route.action, obj, s, uid, headers), s, protocol)
        prepared = _prepare(route, obj)
        if isinstance(prepared, bytes):
            return _finish(MockResponse(200, headers, prepared, uid=uid), s, protocol)
        plan = make_plan(prepared, s.tokens, uid, s.tools)
        if s.skills is not None:
            plan = s.skills.shape(plan, request_prompt(protocol, obj))
    except RequestError as exc:
        raise _Rejection(400, exc.message, exc.param) from None
    headers.append(("x-mock-images-received", str(prepared.images)))
    headers.append(("x-mock-signatures-received", str(prepared.signatures)))
    headers.append(("x-mock-streamed", "true" if prepared.stream else "false"))
    resp = MockResponse(200, headers, uid=uid)
    if route.action == "responses":  # the Responses API, in OpenAI's error dialect
        if not prepared.stream:
            resp.body = responses.responses_body(plan, prepared)
            return _finish(resp, s, protocol)
        resp.frames = responses.responses_frames(plan, prepared)
        return _finish(resp, s, protocol)
    if not prepared.stream:
        resp.body = _render_body(protocol, plan)
        return _finish(resp, s, protocol)
    sse = protocol != "gemini" or "sse" in parse_qs(query).get("alt", [])
    resp.frames = _render_frames(protocol, plan, prepared, sse)
    return _finish(resp, s, protocol, sse)


def _operation(
    action: str, obj: dict[str, Any], s: MockSettings, uid: str, headers: list[tuple[str, str]]
) -> MockResponse:
    """OpenAI's other operations (:mod:`turnout.mock.operations`)."""
    out = operations.answer(action, obj, s.tokens, uid)
    if out.streamed is not None:
        headers.append(("x-mock-streamed", "true" if out.streamed else "false"))
    if out.content_type is not None:  # audio: not JSON
        headers.insert(0, ("content-type", out.content_type))
    return MockResponse(200, headers, out.body, out.frames, uid=uid)


def _prepare(route: Route, obj: dict[str, Any]) -> Facts | bytes:
    """Facts for the generation endpoints; the finished body for the simple ones."""
    action, model = route.action, route.model or ""
    if route.protocol == "openai":
        if action == "chat":
            return openai.read_chat(obj)
        if action == "responses":
            return responses.read_responses(obj)
        if action == "input_tokens":
            return responses.input_tokens_body(obj)
        if action == "embeddings":
            return openai.embeddings_body(obj)[1]
        return openai.models_body() if action == "models" else openai.model_body(model)
    if route.protocol == "anthropic":
        if action == "messages":
            return anthropic.read_messages(obj)
        return anthropic.count_tokens_body(estimate_tokens(anthropic.read_count_tokens(obj)[1]))
    if action in ("generateContent", "streamGenerateContent"):
        facts = gemini.read_generate(obj, model)
        facts.stream = action == "streamGenerateContent"
        return facts
    if action == "countTokens":
        return gemini.count_tokens_body(obj)
    if action == "embedContent":
        return gemini.embed_body(obj)
    return gemini.batch_embed_body(obj)


def _render_body(protocol: Protocol, plan: Plan) -> bytes:
    if protocol == "openai":
        return openai.chat_body(plan)
    if protocol == "anthropic":
        return anthropic.message_body(plan)
    return gemini.generate_body(plan)


def _render_frames(protocol: Protocol, plan: Plan, facts: Facts, sse: bool) -> list[bytes]:
    if protocol == "openai":
        return openai.chat_frames(plan, facts.include_usage)
    if protocol == "anthropic":
        return anthropic.message_frames(plan)
    return gemini.generate_frames(plan, sse)


def _finish(
    resp: MockResponse, s: MockSettings, protocol: Protocol, sse: bool = True
) -> MockResponse:
    """Attach timing and fold byte-level faults into the body or frames."""
    resp.ttft_ms, resp.chunk_ms, resp.fault = s.ttft_ms, s.chunk_ms, s.fault
    if resp.frames is None:
        if not any(name == "content-type" for name, _ in resp.headers):  # audio has its own
            resp.headers.insert(0, ("content-type", JSON))
        if s.fault == "malformed":
            resp.body = _MALFORMED_BODY
        elif s.fault == "error-midstream" and resp.status == 200:
            # A non-stream response has no "mid": the closest equivalent is a 500.
            resp.status = 500
            resp.body = _error_body(
                protocol, 500, "Mock error-midstream fault", resp.uid or "", None
            )
        return resp
    resp.headers[:0] = [("content-type", SSE if sse else JSON), ("cache-control", "no-cache")]
    frames, cut = resp.frames, fault_cut(len(resp.frames))
    if s.fault == "truncate":
        resp.frames = frames[:-1]
    elif s.fault == "malformed":
        resp.frames = [*frames[:cut], garbage(protocol, sse), *frames[cut:]]
    elif s.fault == "error-midstream":
        tail = [] if sse else [b"]"]
        resp.frames = [*frames[:cut], error_frame(protocol, sse), *tail]
    return resp
