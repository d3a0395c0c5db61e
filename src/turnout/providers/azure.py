"""Azure OpenAI: OpenAI's protocol behind Azure's URLs, keys and Entra ID tokens.

``base_url`` is the resource's endpoint (``https://NAME.openai.azure.com``). Two API surfaces:

- ``api: deployments`` (the default): ``/openai/deployments/{deployment}/chat/completions
  ?api-version=…``. The deployment is the upstream model name (a deployment's ``model:``), so
  one Azure provider serves every deployment of its resource.
- ``api: v1``: ``/openai/v1/chat/completions``, where the body's ``model`` names the deployment,
  as on OpenAI itself.

Authentication is the ``api-key`` header (each ``api_keys`` entry is a resource key), or, with
``options.entra``, a Microsoft Entra ID token from the OAuth client-credentials grant against
``{authority}/{tenant_id}/oauth2/v2.0/token``: fetched through the gateway's own upstream
client (so the provider's proxy setting applies), cached and refreshed five minutes before it
expires (:mod:`turnout.providers.tokens`). With Entra, ``api_keys`` is optional: each entry is
then a client secret of the app (several during a secret rotation), and an empty pool uses
``entra.client_secret``.

Azure answers in OpenAI's shape with codes of its own: a content-filter refusal is a 400 with
``code: content_filter`` (``innererror.code: ResponsibleAIPolicyViolation``), a missing
deployment a 404 ``DeploymentNotFound`` (that deployment fails over and is ejected for a while:
another region or resource may have it), quota and rate limits are 429s.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Literal
from urllib.parse import urlencode

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from turnout.config.compile import ProviderSpec
from turnout.names import path_segment
from turnout.providers.base import HTTPProvider
from turnout.providers.descriptor import Auth, ProviderType, rules
from turnout.providers.openai import OPENAI_RULES
from turnout.providers.tokens import TokenCache, TokenError
from turnout.providers.wiresecret import masked
from turnout.types import Call
from turnout.upstream.base import Egress, Timeouts, UpstreamClient, UpstreamResponse

DEFAULT_API_VERSION = "2024-10-21"
TOKEN_BODY_MAX = 64 * 1024  # a token answer is a few kilobytes


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntraOptions(_Closed):
    """An Entra ID app registration allowed to call the resource (its client-credentials grant)."""

    tenant_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9.\-]+$")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = Field(None, description="used when api_keys is empty")
    authority: str = Field(
        "https://login.microsoftonline.com", description="the Entra ID (login) endpoint"
    )
    scope: str = "https://cognitiveservices.azure.com/.default"


class AzureOptions(_Closed):
    api: Literal["deployments", "v1"] = "deployments"
    api_version: str = Field(DEFAULT_API_VERSION, pattern=r"^[A-Za-z0-9.\-]+$")
    entra: EntraOptions | None = None

    @field_validator("api_version", mode="before")
    @classmethod
    def _unquoted(cls, value: object) -> object:
        """YAML reads an unquoted ``2024-10-21`` as a date; it means the version string."""
        return value.isoformat() if isinstance(value, dt.date) else value


# The deployment paths Azure's REST reference documents (no moderations or image variations
# endpoint there; image edits from API version 2025-04-01-preview, or the v1 API).
_PATHS = {
    "chat": "/chat/completions",
    "embeddings": "/embeddings",
    "completions": "/completions",
    "images": "/images/generations",
    "speech": "/audio/speech",
    "transcriptions": "/audio/transcriptions",
    "translations": "/audio/translations",
    "image_edits": "/images/edits",
}


class AzureProvider(HTTPProvider):
    passthrough_headers = frozenset({b"openai-beta"})
    paths = _PATHS

    def __init__(self, spec: ProviderSpec, client: UpstreamClient) -> None:
        super().__init__(spec, client)
        options = spec.options if isinstance(spec.options, AzureOptions) else AzureOptions()
        self.options = options
        # A pasted ".../openai" endpoint means the same resource.
        self._root = spec.base_url.removesuffix("/openai")
        self._query = "?" + urlencode({"api-version": options.api_version})
        self._tokens: TokenCache | None = None
        if options.entra is not None:
            self._tokens = TokenCache(spec.name, self._fetch_token)
            self._token_egress = Egress(proxy=spec.egress.proxy, origin=spec.egress.origin)

    def auth_headers(self, key: str) -> list[tuple[str, str]]:
        return [] if self._tokens is not None else [("api-key", key)]

    def url(self, call: Call, upstream_model: str) -> str:
        path = self._paths.get(call.operation)
        if path is None:
            raise self.unsupported(call.operation)
        if self.options.api == "v1":
            return f"{self._root}/openai/v1{path}"
        deployment = path_segment(upstream_model)
        return f"{self._root}/openai/deployments/{deployment}{path}{self._query}"

    async def exchange(
        self, call: Call, upstream_model: str, body: bytes, key: str
    ) -> UpstreamResponse:
        headers = self.request_headers(call, key)
        tokens, token = self._tokens, None
        if tokens is not None:
            token = await tokens.get(key)
            headers.append(("authorization", "Bearer " + token))
        resp = await self.client.request(
            "POST", self.url(call, upstream_model), headers, body, self.timeouts, self.spec.egress
        )
        if resp.status == 401 and tokens is not None:
            tokens.drop(key)  # revoked or expired early: fetch a new one next time
        if call.stream and 200 <= resp.status < 300 and call.operation not in _UNFILTERED:
            resp = _WithoutFilterChunk(resp)
        return masked(resp, token)  # an Entra token is never echoed back (wiresecret)

    async def _fetch_token(self, credential: str) -> tuple[str, float]:
        """The client-credentials grant: one form POST, ``access_token`` and ``expires_in``."""
        entra = self.options.entra
        assert entra is not None
        configured = entra.client_secret
        secret = credential or (configured.get_secret_value() if configured else "")
        if not secret:
            raise TokenError("options.entra has no client_secret and api_keys is empty")
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": entra.client_id,
                "client_secret": secret,
                "scope": entra.scope,
            }
        ).encode()
        url = f"{entra.authority.rstrip('/')}/{entra.tenant_id}/oauth2/v2.0/token"
        return await post_token_form(self, url, form, self._token_egress)


_BLANK = re.compile(rb"\r?\n\r?\n")
_FIRST_EVENT_MAX = 64 * 1024
# Streams that never open with the filter chunk (it is a chat chunk): speech's audio bytes,
# image and transcription events are relayed as they come, never held back looking for it.
_UNFILTERED = frozenset({"speech", "images", "image_edits", "transcriptions"})


class _WithoutFilterChunk:
    """An Azure stream without its first chunk when that chunk only carries
    ``prompt_filter_results`` (no choices, ``object: ""``): OpenAI's SDK in strict mode refuses
    it, naive clients index ``choices[0]`` on it, and OpenAI never sends one, so a client that
    fails over between Azure and OpenAI would otherwise see two stream shapes. Only the first
    event is looked at (at most 64 KiB held); everything after it passes through untouched."""

    def __init__(self, resp: UpstreamResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.headers = resp.headers

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_chunks()])

    def close(self) -> None:
        self._resp.close()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        chunks = self._resp.iter_chunks()
        # The first event grows in place and each read is searched from where the last search
        # stopped (less the 3 bytes a blank line may straddle): an event sent a byte at a time
        # costs linear time, not the quadratic copying and rescanning of ``head += chunk``.
        head, scanned, looking = bytearray(), 0, True
        try:
            async for chunk in chunks:
                if not looking:
                    yield chunk
                    continue
                head += chunk
                end = _BLANK.search(head, max(0, scanned - 3))
                scanned = len(head)
                if end is None and len(head) < _FIRST_EVENT_MAX:
                    continue
                if end is not None and _filter_only(bytes(head[: end.start()])):
                    del head[: end.end()]
                looking = False
                if head:
                    yield bytes(head)
            if looking and head:
                yield bytes(head)
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()


def _filter_only(event: bytes) -> bool:
    data = event.strip()
    if not data.startswith(b"data:"):
        return False
    try:
        obj = orjson.loads(data[5:])
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(obj, dict)
        and obj.get("choices") == []
        and "prompt_filter_results" in obj
        and not obj.get("usage")
    )


async def post_token_form(
    provider: HTTPProvider, url: str, form: bytes, egress: Egress
) -> tuple[str, float]:
    """POST an OAuth token request through the provider's upstream client; the answer's
    ``access_token`` and ``expires_in``. Errors name the endpoint's status and error code only
    (an error description may quote what was sent)."""
    timeouts = Timeouts(connect=provider.timeouts.connect, read=30.0, total=30.0)
    headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("accept", "application/json"),
        ("accept-encoding", "identity"),
    ]
    try:
        resp = await provider.client.request("POST", url, headers, form, timeouts, egress)
    except Exception as exc:  # UpstreamUnavailable/Timeout or a refused destination
        raise TokenError(f"token endpoint unreachable: {type(exc).__name__}") from None
    size, parts = 0, []
    async for chunk in resp.iter_chunks():
        size += len(chunk)
        if size > TOKEN_BODY_MAX:
            resp.close()
            raise TokenError("token endpoint answer too large")
        parts.append(chunk)
    try:
        data = orjson.loads(b"".join(parts))
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise TokenError(f"token endpoint answered {resp.status} without a JSON object")
    token, lifetime = data.get("access_token"), data.get("expires_in")
    if resp.status != 200 or not isinstance(token, str) or not token:
        code = data.get("error")
        code = code if isinstance(code, str) and code.isascii() else "no access_token"
        raise TokenError(f"token endpoint answered {resp.status}: {code[:80]}")
    if isinstance(lifetime, str) and lifetime.isdigit():  # some endpoints quote it
        lifetime = int(lifetime)
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool):
        lifetime = 3600
    return token, float(lifetime)


AZURE_RULES = rules(
    {"status": 400, "path": "error.innererror.code", "match": "^ResponsibleAIPolicyViolation$",
     "reason": "content_filter"},
    {"status": 404, "path": "error.code", "match": "^DeploymentNotFound$",
     "reason": "server_error"},
)  # fmt: skip

AZURE = ProviderType(
    name="azure",
    protocol="openai",
    provider=AzureProvider,
    base_url=None,  # each resource has its own endpoint
    auth=Auth("api-key"),
    error_rules=(*AZURE_RULES, *OPENAI_RULES),
    operations=frozenset(_PATHS),
    needs_key=False,  # Entra ID tokens need none (checked at the first request otherwise)
    option_destinations=("entra.authority",),
    template=(
        'type: azure\n  base_url: "https://YOUR-RESOURCE.openai.azure.com"\n'
        '  api_keys: ["${AZURE_OPENAI_API_KEY}"]   # or options.entra for Entra ID tokens\n'
        f'  options: {{api_version: "{DEFAULT_API_VERSION}"}}   # api: v1 for the v1 API'
    ),
    otel_name="azure.ai.openai",
    key_env="AZURE_OPENAI_API_KEY",
    summary="Azure OpenAI (deployments or the v1 API; api-key or Entra ID)",
    options=AzureOptions,
)
