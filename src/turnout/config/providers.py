"""The ``providers:`` section of ``turnout.yaml``: one upstream account and how it is reached.

Its own module because it is the part of the schema the provider registry reaches into (the
type name is checked against it, a descriptor's default error rules are ``ErrorRule``s) and the
part OAuth reads (``OAuthProfile``); the rest of the schema only names ``ProviderConfig``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from turnout.config.base import Closed


def _known_type(name: str) -> str:
    """Provider types are whatever the registry knows (turnout.providers.registry)."""
    from turnout.providers.registry import UnknownProviderType, provider_type

    try:
        provider_type(name)
    except UnknownProviderType as exc:
        raise PydanticCustomError(
            "provider_type", "{message}", {"message": str(exc), "given": name}
        ) from None
    return name


ProviderTypeName = Annotated[str, AfterValidator(_known_type)]


class Timeouts(Closed):
    connect: float = Field(10.0, gt=0)
    read: float = Field(300.0, gt=0, description="max silence between two upstream reads")
    total: float = Field(600.0, gt=0, description="max duration of one upstream attempt")


Reason = Literal[
    "invalid_key",
    "no_quota",
    "rate_limited",
    "overloaded",
    "server_error",
    "timeout",
    "context_length",
    "content_filter",
    "bad_request",
]
REASONS: tuple[str, ...] = get_args(Reason)


class ErrorRule(Closed):
    """Maps an upstream error answer to a reason (highest ``priority`` among matches wins)."""

    status: int | list[int] | None = Field(None, description="status code(s); any if omitted")
    path: str | None = Field(None, description="dotted JSON path into the error body")
    match: str | None = Field(None, description="regex searched in the value (or whole body)")
    reason: Reason
    priority: int = 100
    description: str | None = Field(None, description="what the rule is for (a note for readers)")


class TLSConfig(Closed):
    """How a provider's TLS connections are checked and which identity they present."""

    ca_file: str | None = Field(None, description="PEM CA bundle trusted instead of the system's")
    cert_file: str | None = Field(None, description="client certificate (mTLS), PEM")
    key_file: str | None = Field(None, description="its private key; default: inside cert_file")
    verify: bool = Field(True, description="false: no certificate or host name checks at all")


class OAuthProfile(Closed):
    """A generic OAuth 2.0 client for provider accounts signed in with OAuth (docs/oauth.md)."""

    token_url: str = Field(description="the token endpoint (code exchange and refresh)")
    authorization_url: str | None = Field(
        None, description="the authorization endpoint (code + PKCE sign-in)"
    )
    device_authorization_url: str | None = Field(
        None, description="the device authorization endpoint (device-code sign-in)"
    )
    client_id: str
    client_secret: str | None = Field(None, repr=False, description="none for a public client")
    scopes: list[str] = Field(default_factory=list)
    extra_params: dict[str, str] = Field(
        default_factory=dict, description="added to the authorization request (audience, …)"
    )
    header: str | None = Field(
        None, description="header carrying the access token; default: the type's own"
    )
    prefix: str | None = Field(None, description="before the token in it; default: the type's")
    refresh_before: float = Field(
        300.0, ge=0, description="seconds before expiry an access token is refreshed"
    )


class ProviderConfig(Closed):
    type: ProviderTypeName
    base_url: str | None = None
    api_keys: list[str] = Field(default_factory=list)
    auth: Literal["key", "oauth"] = Field(
        "key", description="oauth: accounts signed in with `turnout accounts login`"
    )
    oauth: OAuthProfile | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    forward_headers: list[str] = Field(
        default_factory=list, description="client header names (globs) relayed to this provider"
    )
    timeouts: Timeouts = Timeouts()  # frozen, so one shared default is safe
    shared_key_status: bool = Field(
        False, description="one account-level state per key instead of one per model"
    )
    error_rules: list[ErrorRule] = Field(default_factory=list)
    probe_model: str | None = Field(None, description="model the health keeper probes keys with")
    probe: bool = Field(True, description="let the health keeper probe this provider's keys")
    proxy: str | None = Field(
        None, description="http://[user:pass@]host:port, or 'none'; default: HTTPS_PROXY etc."
    )
    tls: TLSConfig = TLSConfig()
    max_connections: int = Field(1024, ge=1, description="open connections per origin, process")
    pool_timeout: float = Field(
        10.0, gt=0, description="seconds a request waits for a connection at max_connections"
    )
    max_response_bytes: int = Field(
        32 * 1024 * 1024, ge=0, description="largest upstream answer read whole; 0: no cap"
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="the type's own settings (docs/providers.md)"
    )
    streaming_mode: Literal["auto", "disabled"] = Field(
        "auto",
        description="disabled: never ask this provider for a stream; streaming clients get "
        "the whole answer replayed as a stream",
    )
