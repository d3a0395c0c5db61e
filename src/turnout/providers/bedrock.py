"""AWS Bedrock: Anthropic's models through InvokeModel, every other model through Converse
(:mod:`turnout.providers.converse`), signed with SigV4.

The body is Anthropic's Messages body as Bedrock takes it: no ``model`` (it is in the URL) and
no ``stream`` (the URL says that too), with ``anthropic_version: bedrock-2023-05-31``. So the
provider speaks the Anthropic protocol: Anthropic clients keep their own bytes (thinking,
cache control, betas), every other client is translated as for Anthropic itself.

- ``POST {host}/model/{model}/invoke``: the Messages answer, unchanged.
- ``POST {host}/model/{model}/invoke-with-response-stream``: an AWS event stream
  (:mod:`turnout.providers.eventstream`, decoded incrementally with bounds) whose ``chunk``
  events carry each Anthropic stream event base64-encoded; they are re-framed as Anthropic's
  SSE as they arrive. An ``exception`` message becomes Anthropic's ``event: error`` frame.
- Errors are ``{"message": …}`` with the exception's name in ``x-amzn-ErrorType``; they are
  rewritten into Anthropic's error shape (the name kept as ``error.bedrock_error_type``) so
  clients and the classifier read one shape.

``model`` may be a model id (``anthropic.claude-sonnet-4-5-20250929-v1:0``), a cross-region
inference profile (``us.anthropic.…``, ``global.anthropic.…``) or an ARN; it is one
percent-encoded path segment. ``host`` is ``https://bedrock-runtime.{region}.amazonaws.com``
unless ``base_url`` says otherwise.

Signing is botocore's SigV4 signer (service ``bedrock``). Credentials: each ``api_keys`` entry
is ``ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`` (several accounts make a pool); an empty
pool uses the standard AWS chain through botocore (environment, ``options.profile`` or
``AWS_PROFILE``, SSO, web identity, container and instance roles), refreshed by botocore in a
worker thread when due, since its refresh blocks.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import AsyncIterator
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from turnout.config.compile import DeploymentSpec, ProviderSpec
from turnout.errors import UpstreamUnavailable
from turnout.names import path_segment
from turnout.protocols.descriptor import COUNT
from turnout.protocols.registry import FAMILIES, PROTOCOLS
from turnout.providers import converse
from turnout.providers.anthropic import ANTHROPIC_RULES
from turnout.providers.base import HTTPProvider
from turnout.providers.descriptor import ProviderType, rules
from turnout.providers.eventstream import MAX_MESSAGE, EventStreamDecoder, EventStreamError
from turnout.providers.relay import invalid
from turnout.types import Call, Reply
from turnout.upstream.base import UpstreamClient, UpstreamResponse

ANTHROPIC_VERSION = "bedrock-2023-05-31"
DEFAULT_HOST = "https://bedrock-runtime.{region}.amazonaws.com"
_SIGNED = ("content-type", "accept")  # besides host and the x-amz-* headers botocore adds
# Bedrock's exceptions, as Anthropic's error types (what an Anthropic client's SDK expects).
_KINDS = {
    "throttlingexception": "rate_limit_error",
    "servicequotaexceededexception": "rate_limit_error",
    "modelnotreadyexception": "overloaded_error",
    "serviceunavailableexception": "overloaded_error",
    "validationexception": "invalid_request_error",
    "accessdeniedexception": "permission_error",
    "unrecognizedclientexception": "authentication_error",
    "invalidsignatureexception": "authentication_error",
    "expiredtokenexception": "authentication_error",
    "resourcenotfoundexception": "not_found_error",
    "modeltimeoutexception": "timeout_error",
}
_BY_STATUS = {400: "invalid_request_error", 401: "authentication_error",
              403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}  # fmt: skip
_ERROR_BODY_MAX = 1024 * 1024


class BedrockOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str = Field(pattern=r"^[a-z0-9\-]+$", description="the AWS region, e.g. us-east-1")
    profile: str | None = Field(None, description="an AWS profile for the default chain")
    anthropic_version: str = ANTHROPIC_VERSION
    api: Literal["auto", "invoke", "converse"] = Field(
        "auto", description="auto: InvokeModel for Anthropic's models, Converse for the others"
    )


class _Signer:
    """Credentials per pool entry and botocore's SigV4 signer."""

    def __init__(self, options: BedrockOptions) -> None:
        self.options = options
        self._chain: dict[str, Any] = {}  # "" -> botocore credentials of the default chain

    async def frozen(self, key: str) -> Any:
        from botocore.credentials import ReadOnlyCredentials

        if key:
            parts = key.split(":", 2)
            if len(parts) < 2 or not parts[0] or not parts[1]:
                raise UpstreamUnavailable(
                    "a bedrock api_keys entry must be ACCESS_KEY_ID:SECRET_ACCESS_KEY[:TOKEN]"
                )
            return ReadOnlyCredentials(parts[0], parts[1], parts[2] if len(parts) > 2 else None)
        creds: Any = self._chain.get(key)
        if creds is None:
            creds = await asyncio.to_thread(self._default_chain)
            self._chain[key] = creds
        refresh = getattr(creds, "refresh_needed", None)
        if refresh is not None and refresh():
            return await asyncio.to_thread(creds.get_frozen_credentials)
        return creds.get_frozen_credentials()

    def _default_chain(self) -> Any:
        import botocore.session

        session = botocore.session.Session(profile=self.options.profile)
        creds = session.get_credentials()
        if creds is None:
            raise UpstreamUnavailable(
                "no AWS credentials: set api_keys, or the environment, a profile or a role"
            )
        return creds

    def sign(
        self, frozen: Any, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> list[tuple[str, str]]:
        """The headers botocore's SigV4 adds (authorization, x-amz-date, token)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        SigV4Auth(frozen, "bedrock", self.options.region).add_auth(request)
        return [
            (name.lower(), value if isinstance(value, str) else value.decode("latin-1"))
            for name, value in request.headers.items()
            if name.lower() in ("authorization", "x-amz-date", "x-amz-security-token")
        ]


class BedrockProvider(HTTPProvider):
    passthrough_headers = frozenset()  # Bedrock takes anthropic_beta in the body, not a header

    def __init__(self, spec: ProviderSpec, client: UpstreamClient) -> None:
        super().__init__(spec, client)
        options = spec.options if isinstance(spec.options, BedrockOptions) else None
        if options is None:
            raise ValueError(f"provider {spec.name}: options.region is required for bedrock")
        self.options = options
        self._host = spec.base_url.replace("{region}", options.region)
        self._signer = _Signer(options)

    def auth_headers(self, key: str) -> list[tuple[str, str]]:
        return []  # the signature is added in exchange

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        if FAMILIES.get((call.protocol, call.operation)) == COUNT:
            # No token counting here: estimated as for OpenAI's upstreams (four bytes a token),
            # flagged, so agents that count before every turn (Claude Code) keep working.
            tokens = math.ceil(len(call.body) / 4)
            body = orjson.dumps(PROTOCOLS[call.protocol].count_result(tokens))
            headers = [
                (b"content-type", b"application/json"),
                (b"x-turnout-token-count", b"estimated"),
            ]
            return Reply(200, headers, body=body)
        return await super().send(call, deployment, key)

    def converse(self, upstream_model: str) -> bool:
        """Whether this model is reached through Converse rather than InvokeModel."""
        api = self.options.api
        return api == "converse" or (api == "auto" and "anthropic." not in upstream_model)

    def url(self, call: Call, upstream_model: str) -> str:
        if call.operation != "messages":
            raise self.unsupported(call.operation)
        if self.converse(upstream_model):
            action = "converse-stream" if call.stream else "converse"
        else:
            action = "invoke-with-response-stream" if call.stream else "invoke"
        return f"{self._host}/model/{path_segment(upstream_model)}/{action}"

    def native_body(self, call: Call, upstream_model: str) -> bytes:
        return call.body  # rewritten in exchange, native or translated alike

    def _body(self, data: dict[str, Any]) -> bytes:
        out = {k: v for k, v in data.items() if k not in ("model", "stream")}
        out.setdefault("anthropic_version", self.options.anthropic_version)
        return orjson.dumps(out)

    async def exchange(
        self, call: Call, upstream_model: str, body: bytes, key: str
    ) -> UpstreamResponse:
        conversing = self.converse(upstream_model)
        body = orjson.dumps(converse.request(call.data)) if conversing else self._body(call.data)
        url = self.url(call, upstream_model)
        signed = [
            ("content-type", "application/json"),
            ("accept", "application/vnd.amazon.eventstream" if call.stream else "application/json"),
        ]
        frozen = await self._signer.frozen(key)
        headers = [*signed, *self._signer.sign(frozen, url, signed, body)]
        # Everything else is unsigned (x-request-id, forwarded and static headers).
        headers += [h for h in self.request_headers(call, key) if h[0] not in _SIGNED]
        resp = await self.client.request(
            "POST", url, headers, body, self.timeouts, self.spec.egress
        )
        if resp.status >= 400:
            return _ErrorResponse(resp, self.spec.name)
        if call.stream and 200 <= resp.status < 300:
            framer = converse.StreamFramer(upstream_model) if conversing else None
            return _StreamResponse(resp, self.spec.name, framer)
        if conversing and 200 <= resp.status < 300:
            return _ConverseResponse(resp, self.spec.name, upstream_model)
        return resp


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for k, v in headers:
        if k == name:
            return v.decode("latin-1")
    return ""


def _relabel(headers: list[tuple[bytes, bytes]], content_type: bytes) -> list[tuple[bytes, bytes]]:
    out = [(k, v) for k, v in headers if k not in (b"content-type", b"content-length")]
    out.append((b"content-type", content_type))
    return out


def error_body(status: int, aws_type: str, message: str) -> bytes:
    """A Bedrock error in Anthropic's shape, Bedrock's exception name kept beside it."""
    name = aws_type.split(":", 1)[0].strip()  # "ThrottlingException:http://internal..."
    kind = (
        _KINDS.get(name.lower())
        or _BY_STATUS.get(status)
        or ("overloaded_error" if status in (503, 529) else "api_error")
    )
    err = {"type": kind, "message": message, "bedrock_error_type": name}
    return orjson.dumps({"type": "error", "error": err})


class _ErrorResponse:
    """An error answer, rewritten whole (bounded) into Anthropic's error shape."""

    def __init__(self, resp: UpstreamResponse, provider: str) -> None:
        self._resp = resp
        self._provider = provider
        self.status = resp.status
        self.headers = _relabel(resp.headers, b"application/json")
        self._body: bytes | None = None

    async def read(self) -> bytes:
        if self._body is None:
            size, parts = 0, []
            async for chunk in self._resp.iter_chunks():
                size += len(chunk)
                if size > _ERROR_BODY_MAX:
                    self._resp.close()
                    raise invalid(self._provider, "error body larger than 1 MiB")
                parts.append(chunk)
            raw = b"".join(parts)
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = None
            message = ""
            if isinstance(data, dict):
                found = data.get("message", data.get("Message"))
                message = found if isinstance(found, str) else ""
            if not message:
                message = raw[:500].decode("utf-8", "replace")
            aws_type = _header(self._resp.headers, b"x-amzn-errortype")
            self._body = error_body(self.status, aws_type, message)
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield await self.read()

    def close(self) -> None:
        self._resp.close()


class _ConverseResponse:
    """A Converse answer (bounded like any body read whole) as an Anthropic message."""

    def __init__(self, resp: UpstreamResponse, provider: str, model: str) -> None:
        self._resp = resp
        self._provider = provider
        self._model = model
        self.status = resp.status
        self.headers = _relabel(resp.headers, b"application/json")

    async def read(self) -> bytes:
        size, parts = 0, []
        async for chunk in self._resp.iter_chunks():
            size += len(chunk)
            if size > MAX_MESSAGE:
                self._resp.close()
                raise invalid(self._provider, "a Converse answer larger than 16 MiB")
            parts.append(chunk)
        try:
            data = orjson.loads(b"".join(parts))
            return orjson.dumps(converse.response(data, self._model))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            raise invalid(self._provider, "not a Converse answer") from None

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield await self.read()

    def close(self) -> None:
        self._resp.close()


class _StreamResponse:
    """An event stream, re-framed as Anthropic's SSE one upstream read at a time:
    InvokeModel's ``chunk`` events carry Anthropic's own events, ConverseStream's are mapped
    (``framer``)."""

    def __init__(
        self, resp: UpstreamResponse, provider: str, framer: converse.StreamFramer | None = None
    ) -> None:
        self._resp = resp
        self._provider = provider
        self._framer = framer
        self.status = resp.status
        self.headers = _relabel(resp.headers, b"text/event-stream")

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        decoder = EventStreamDecoder()
        chunks = self._resp.iter_chunks()
        try:
            async for data in chunks:
                try:
                    messages = decoder.feed(data)
                except EventStreamError as exc:
                    self._resp.close()
                    raise invalid(self._provider, f"event stream: {exc}") from None
                out = [self._frame(m.header(":message-type"), m) for m in messages]
                if out:
                    yield b"".join(out)
            if decoder.pending:  # cut inside a message: the decoders see a truncated stream
                raise invalid(self._provider, "event stream cut inside a message")
            if self._framer is not None and (tail := self._framer.finish()):
                yield tail  # a ConverseStream that ended without its metadata event
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    def _frame(self, kind: str, message: Any) -> bytes:
        if kind == "event" and self._framer is not None:
            try:
                found = orjson.loads(message.payload)
                if not isinstance(found, dict):
                    raise TypeError("not an object")
                return self._framer.feed(message.header(":event-type"), found)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
                raise invalid(self._provider, "a ConverseStream event that is not one") from None
        if kind == "event" and message.header(":event-type") == "chunk":
            try:
                inner = orjson.loads(base64.b64decode(orjson.loads(message.payload)["bytes"]))
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                raise invalid(self._provider, "a chunk event without a JSON event") from None
            if not isinstance(inner, dict) or not isinstance(inner.get("type"), str):
                raise invalid(self._provider, "a chunk event without an event type")
            event: bytes = inner["type"].encode()
            return b"event: " + event + b"\ndata: " + orjson.dumps(inner) + b"\n\n"
        if kind in ("exception", "error"):
            name = message.header(":exception-type") or message.header(":error-code")
            try:
                found = orjson.loads(message.payload).get("message")
            except (orjson.JSONDecodeError, AttributeError):
                found = None
            text = found if isinstance(found, str) else "upstream stream error"
            body = orjson.loads(error_body(500, name, text))
            return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"
        return b""  # an event type Anthropic's stream has no place for: skipped

    def close(self) -> None:
        self._resp.close()


BEDROCK_RULES = rules(
    {"status": [400, 429], "path": "error.bedrock_error_type",
     "match": "^(ThrottlingException|ServiceQuotaExceededException)$", "reason": "rate_limited"},
    {"path": "error.bedrock_error_type", "match": "^(ModelNotReadyException|"
     "ServiceUnavailableException)$", "reason": "overloaded"},
    {"status": 424, "reason": "server_error"},  # ModelErrorException: the model failed
    {"status": 404, "path": "error.bedrock_error_type", "match": "^ResourceNotFoundException$",
     "reason": "server_error"},  # not in this region or account: another may have it
    {"status": 400, "path": "error.message",
     "match": "(?i)input is too long|too many input tokens|prompt is too long",
     "reason": "context_length"},
)  # fmt: skip

BEDROCK = ProviderType(
    name="bedrock",
    protocol="anthropic",
    provider=BedrockProvider,
    base_url=DEFAULT_HOST,
    error_rules=(*BEDROCK_RULES, *ANTHROPIC_RULES),
    operations=frozenset({"messages"}),
    needs_key=False,  # the standard AWS chain needs none
    template=(
        "type: bedrock\n  options: {region: us-east-1}\n"
        '  # api_keys: ["${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}"]   '
        "# default: the AWS credential chain"
    ),
    otel_name="aws.bedrock",
    summary="AWS Bedrock: Anthropic models through InvokeModel, others through Converse (SigV4)",
    options=BedrockOptions,
)
