"""Google Vertex AI: Gemini (``publishers/google``) and Claude (``publishers/anthropic``) models
behind Google Cloud's URLs and OAuth tokens.

One provider serves both publishers; the deployment's model decides which: a ``claude-*`` name
(or ``publishers/anthropic/models/…``) is Anthropic's Messages API, anything else Gemini's.

- Gemini: ``{host}/v1/projects/{project}/locations/{location}/publishers/google/models/
  {model}:generateContent`` (``:streamGenerateContent?alt=sse``, ``:countTokens``), the Gemini
  API's bodies unchanged.
- Claude: ``…/publishers/anthropic/models/{model}:rawPredict`` (``:streamRawPredict`` for a
  stream; ``count-tokens:rawPredict`` to count), the Messages body without ``model`` and with
  ``anthropic_version: vertex-2023-10-16``; answers and streams are Anthropic's own.

``host`` is ``https://{location}-aiplatform.googleapis.com`` (``aiplatform.googleapis.com`` for
``location: global``) unless ``base_url`` says otherwise. Tokens come from google-auth: a
service-account key file (each ``api_keys`` entry is the path of one, several accounts making a
pool; an empty pool uses ``options.credentials_file``) or, with neither, Application Default
Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, the gcloud user, the metadata server).
google-auth's refresh is blocking, so it runs in a worker thread, once per credential and hour
(:mod:`turnout.providers.tokens`), over a transport bounded by the provider's timeouts and
64 KiB of answer (:mod:`turnout.providers.googletransport`); a 401 drops the token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, computed_field

from turnout.config.compile import DeploymentSpec, ProviderSpec
from turnout.names import path_segment
from turnout.observability.logging import get_logger
from turnout.protocols.gemini.routes import sse_requested
from turnout.protocols.registry import PROTOCOLS
from turnout.providers.anthropic import ANTHROPIC_RULES
from turnout.providers.base import HTTPProvider
from turnout.providers.descriptor import ProviderType
from turnout.providers.gemini import GEMINI_RULES, GeminiProvider
from turnout.providers.googletransport import BoundedRequest
from turnout.providers.tokens import TokenCache, TokenError
from turnout.providers.wiresecret import masked
from turnout.types import Call, Reply
from turnout.upstream.base import UpstreamClient, UpstreamResponse

log = get_logger("turnout.upstream")
GLOBAL_HOST = "https://aiplatform.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ANTHROPIC_VERSION = "vertex-2023-10-16"
_GEMINI_OPS = frozenset({"generateContent", "countTokens"})
# A project id (or number, or a domain-scoped ``example.com:project``) is one path segment,
# never a dot segment; a location is part of the host's name, so letters, digits and ``-``.
_PROJECT = r"^[A-Za-z0-9][A-Za-z0-9_:\-]*(\.[A-Za-z0-9_:\-]+)*$"
_LOCATION = r"^[A-Za-z0-9][A-Za-z0-9\-]*$"


class VertexOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(pattern=_PROJECT, description="the Google Cloud project id")
    location: str = Field("us-central1", pattern=_LOCATION, description="region, or global")
    api_version: Literal["v1", "v1beta1"] = "v1"
    credentials_file: str | None = Field(
        None, description="service-account key file; default: Application Default Credentials"
    )
    anthropic_version: str = ANTHROPIC_VERSION

    @computed_field  # type: ignore[prop-decorator]
    @property
    def host(self) -> str:
        """The location's endpoint (the default ``base_url``)."""
        if self.location == "global":
            return GLOBAL_HOST
        return f"https://{self.location}-aiplatform.googleapis.com"


def is_anthropic(model: str) -> bool:
    return model.startswith(("claude", "publishers/anthropic/"))


def _bare(model: str) -> str:
    """The model as one path segment; ``@`` (Claude's version, ``claude-x@20250929``) stays as
    Vertex writes it, everything that could end the segment or start the action is encoded."""
    for prefix in ("publishers/google/models/", "publishers/anthropic/models/", "models/"):
        model = model.removeprefix(prefix)
    return "@".join(path_segment(part) for part in model.split("@"))


def _code(exc: Exception) -> str:
    """A token endpoint's OAuth error code (``invalid_grant``), or that it gave none."""
    answer = exc.args[1] if len(exc.args) > 1 else None
    code = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(code, str) and code.isascii() and code.isprintable():
        return code[:80]
    return "no error code"


class _Credentials:
    """google-auth credentials per pool entry, made once, refreshed in a worker thread."""

    def __init__(self, options: VertexOptions, connect: float = 10.0, read: float = 30.0) -> None:
        self._options = options
        self._made: dict[str, Any] = {}
        self._connect, self._read = connect, read

    def _refresh(self, credential: str) -> tuple[str, float]:
        import google.auth
        from google.auth import exceptions
        from google.oauth2 import service_account

        try:
            creds = self._made.get(credential)
            if creds is None:
                path = credential or self._options.credentials_file
                if path:
                    load = service_account.Credentials.from_service_account_file
                    creds = load(path, scopes=[SCOPE])  # type: ignore[no-untyped-call]
                else:
                    creds, _ = google.auth.default(scopes=[SCOPE])
                self._made[credential] = creds
            creds.refresh(BoundedRequest(self._connect, self._read))
            expiry = creds.expiry
        except exceptions.RefreshError as exc:
            # What the token endpoint said is its error code only: its description and the
            # rest of its answer may quote the request, whose signed assertion is a credential.
            raise TokenError(f"token endpoint refused: {_code(exc)}") from None
        except exceptions.TransportError:
            raise TokenError("token endpoint unreachable") from None
        except Exception as exc:  # google-auth reading an answer it did not expect, or a file
            # A key file missing or malformed, or a token answer google-auth cannot read (an
            # expiry past the calendar's end, a list where an object belongs): named by type;
            # the detail is the operator's.
            log.warning("vertex credentials unusable", error=f"{type(exc).__name__}: {exc}"[:200])
            raise TokenError(f"credentials unusable ({type(exc).__name__})") from None
        lifetime = 3600.0
        if isinstance(expiry, dt.datetime):  # naive UTC in google-auth
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            lifetime = (expiry - now).total_seconds()
        return creds.token if isinstance(creds.token, str) else "", lifetime

    async def fetch(self, credential: str) -> tuple[str, float]:
        return await asyncio.to_thread(self._refresh, credential)


class _Vertex:
    """What both publishers share: the project's URL prefix and the bearer token."""

    options: VertexOptions
    tokens: TokenCache
    prefix: str

    def setup(self, spec: ProviderSpec, tokens: TokenCache | None = None) -> None:
        options = spec.options if isinstance(spec.options, VertexOptions) else None
        if options is None:
            raise ValueError(f"provider {spec.name}: options.project is required for vertex")
        self.options = options
        host = spec.base_url
        if "{" in host:  # a spec built without the compiler (which fills the default in)
            host = host.format_map(options.model_dump())
        self.prefix = (
            f"{host}/{options.api_version}/projects/{options.project}"
            f"/locations/{options.location}/publishers"
        )
        credentials = _Credentials(options, spec.connect_timeout, spec.read_timeout)
        self.tokens = tokens or TokenCache(spec.name, credentials.fetch)

    async def authorised(
        self, provider: HTTPProvider, call: Call, url: str, body: bytes, key: str
    ) -> UpstreamResponse:
        headers = provider.request_headers(call, key)
        token = await self.tokens.get(key)
        headers.append(("authorization", "Bearer " + token))
        resp = await provider.client.request(
            "POST", url, headers, body, provider.timeouts, provider.spec.egress
        )
        if resp.status == 401:
            self.tokens.drop(key)
        return masked(resp, token)  # never the bearer token back to the client (wiresecret)


class VertexClaude(_Vertex, HTTPProvider):
    """Claude on Vertex: the Anthropic protocol, published by ``anthropic``."""

    passthrough_headers = frozenset({b"anthropic-beta"})

    def __init__(self, spec: ProviderSpec, client: UpstreamClient, tokens: TokenCache) -> None:
        HTTPProvider.__init__(self, spec, client)
        self.protocol = "anthropic"
        self.wire = PROTOCOLS["anthropic"]
        self.setup(spec, tokens)

    def auth_headers(self, key: str) -> list[tuple[str, str]]:
        return []

    def url(self, call: Call, upstream_model: str) -> str:
        if call.operation == "count_tokens":
            return f"{self.prefix}/anthropic/models/count-tokens:rawPredict"
        if call.operation != "messages":
            raise self.unsupported(call.operation)
        action = "streamRawPredict" if call.stream else "rawPredict"
        return f"{self.prefix}/anthropic/models/{_bare(upstream_model)}:{action}"

    def native_body(self, call: Call, upstream_model: str) -> bytes:
        return call.body  # rewritten in exchange, native or translated alike

    def _body(self, data: dict[str, Any], upstream_model: str, operation: str) -> bytes:
        out = dict(data)
        if operation == "count_tokens":  # the counting endpoint reads the model from the body
            out["model"] = _bare(upstream_model)
        else:
            out.pop("model", None)
            out.setdefault("anthropic_version", self.options.anthropic_version)
        return orjson.dumps(out)

    async def exchange(
        self, call: Call, upstream_model: str, body: bytes, key: str
    ) -> UpstreamResponse:
        body = self._body(call.data, upstream_model, call.operation)
        return await self.authorised(self, call, self.url(call, upstream_model), body, key)


class VertexProvider(_Vertex, GeminiProvider):
    """Gemini on Vertex, and the dispatcher to :class:`VertexClaude` for Claude models."""

    def __init__(self, spec: ProviderSpec, client: UpstreamClient) -> None:
        GeminiProvider.__init__(self, spec, client)
        self.setup(spec)
        self.claude = VertexClaude(spec, client, self.tokens)

    def auth_headers(self, key: str) -> list[tuple[str, str]]:
        return []

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        if is_anthropic(deployment.upstream_model(call.model)):
            return await self.claude.send(call, deployment, key)
        return await super().send(call, deployment, key)

    def url(self, call: Call, upstream_model: str) -> str:
        action = call.operation
        if action not in _GEMINI_OPS:
            raise self.unsupported(action)
        query = ""
        if action == "generateContent" and call.stream:
            action = "streamGenerateContent"
            if sse_requested(call):
                query = "?alt=sse"
        return f"{self.prefix}/google/models/{_bare(upstream_model)}:{action}{query}"

    async def exchange(
        self, call: Call, upstream_model: str, body: bytes, key: str
    ) -> UpstreamResponse:
        return await self.authorised(self, call, self.url(call, upstream_model), body, key)


VERTEX = ProviderType(
    name="vertex",
    protocol="gemini",  # Claude models are dispatched to the Anthropic protocol by name
    provider=VertexProvider,
    base_url="{host}",  # {location}-aiplatform.googleapis.com, or the global endpoint
    error_rules=(*GEMINI_RULES, *ANTHROPIC_RULES),
    operations=_GEMINI_OPS,
    needs_key=False,  # Application Default Credentials need none
    host_credentials="the Application Default Credentials of the gateway's host",
    key_files=True,  # each key is the path of a service-account file
    file_options=("credentials_file",),
    template=(
        "type: vertex\n  options: {project: my-project, location: us-central1}\n"
        "  # api_keys: [/path/to/service-account.json]   # default: Application Default "
        "Credentials"
    ),
    otel_name="gcp.vertex_ai",
    summary="Google Vertex AI: Gemini and Claude models (service account or ADC)",
    options=VertexOptions,
)
