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
  SSE as they arrive. A stream that opens with an ``exception`` message is answered as that
  error (its status from the exception); one later becomes Anthropic's ``event: error`` frame,
  or a 502 when no Anthropic error type says what it was.
- Errors are ``{"message": …}`` with the exception's name in ``x-amzn-ErrorType``; they are
  rewritten into Anthropic's error shape (the name kept as ``error.bedrock_error_type``) so
  clients and the classifier read one shape.

Those answers are re-shaped in :mod:`turnout.providers.bedrock_answers`; this module builds
and signs the request.

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
import math
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
from turnout.providers.bedrock_answers import ConverseResponse, ErrorResponse, StreamResponse
from turnout.providers.descriptor import ProviderType, rules
from turnout.providers.wiresecret import masked
from turnout.types import Call, Reply
from turnout.upstream.base import UpstreamClient, UpstreamResponse

ANTHROPIC_VERSION = "bedrock-2023-05-31"
DEFAULT_HOST = "https://bedrock-runtime.{region}.amazonaws.com"
_SIGNED = ("content-type", "accept")  # besides host and the x-amz-* headers botocore adds


def _owned(name: str) -> bool:
    """Whether a header is the signature's to set: never taken from a client or the config."""
    name = name.lower()
    return name in _SIGNED or name in ("authorization", "host") or name.startswith("x-amz-")


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
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            creds: Any = self._chain.get(key)
            if creds is None:
                creds = await asyncio.to_thread(self._default_chain)
                self._chain[key] = creds
            refresh = getattr(creds, "refresh_needed", None)
            if refresh is not None and refresh():
                return await asyncio.to_thread(creds.get_frozen_credentials)
            return creds.get_frozen_credentials()
        except (BotoCoreError, ClientError) as exc:
            # A profile that is not there, a credential_process, SSO or role that fails: the
            # upstream cannot be reached (502, failover). Named by type only: botocore's
            # messages quote a credential process's output, which may hold anything.
            raise UpstreamUnavailable(
                f"AWS credentials unavailable ({type(exc).__name__})"
            ) from None

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
        # Everything else is unsigned (x-request-id, forwarded and static headers), and never
        # one the signature owns: a client's x-amz-date, security token or payload hash sent
        # beside the gateway's (forward_headers: ["*"]) would be a second clock or credential.
        headers += [h for h in self.request_headers(call, key) if not _owned(h[0])]
        resp = await self.client.request(
            "POST", url, headers, body, self.timeouts, self.spec.egress
        )
        # The session token went on the wire: masked wherever the upstream quotes it.
        return masked(await self._answer(call, upstream_model, resp, conversing), frozen.token)

    async def _answer(
        self, call: Call, upstream_model: str, resp: UpstreamResponse, conversing: bool
    ) -> UpstreamResponse:
        if resp.status >= 400:
            return ErrorResponse(resp, self.spec.name)
        if call.stream and 200 <= resp.status < 300:
            framer = converse.StreamFramer(upstream_model) if conversing else None
            return await StreamResponse(resp, self.spec.name, framer).opened()
        if conversing and 200 <= resp.status < 300:
            return ConverseResponse(resp, self.spec.name, upstream_model)
        return resp


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
    host_credentials="the AWS credential chain of the gateway's host",
    template=(
        "type: bedrock\n  options: {region: us-east-1}\n"
        '  # api_keys: ["${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}"]   '
        "# default: the AWS credential chain"
    ),
    otel_name="aws.bedrock",
    summary="AWS Bedrock: Anthropic models through InvokeModel, others through Converse (SigV4)",
    options=BedrockOptions,
)
