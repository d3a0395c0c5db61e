"""What a provider is, and the HTTP machinery every HTTP provider shares.

A provider turns a :class:`~turnout.types.Call` into one upstream attempt and hands back a
:class:`~turnout.types.Reply` in the *client's* protocol. Same-protocol calls forward the
client's bytes (only the model name is rewritten when the deployment renames it); translation
between protocols goes through :mod:`turnout.providers.translate`, which
:meth:`HTTPProvider.send` calls for any other protocol, so every provider gets it.

The interface is kept to one method on purpose: capabilities a provider lacks are refused with
a clear error rather than grown into a fifty-method base class.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import ClassVar, Protocol

import orjson

from turnout.config.compile import DeploymentSpec, ProviderSpec
from turnout.errors import BadRequest, GatewayError
from turnout.protocols.registry import PROTOCOLS
from turnout.providers.registry import provider_type
from turnout.types import Call, Headers, Reply
from turnout.upstream.base import Timeouts, UpstreamClient, UpstreamResponse

# Never relayed from upstream to client: hop-by-hop, recomputed, or ours to set.
_DROP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"date",
        b"server",
        b"set-cookie",
        b"x-request-id",
        b"alt-svc",
        b"via",
    }
)

# The client's credentials are for the gateway: never relayed, whatever forward_headers says.
_CREDENTIALS = frozenset({b"authorization", b"x-api-key", b"x-goog-api-key", b"api-key"})


class Provider(Protocol):
    spec: ProviderSpec

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        """Make one upstream attempt; raise GatewayError for transport-level failures."""
        ...

    async def close(self) -> None: ...


def relay_headers(upstream: list[tuple[bytes, bytes]]) -> Headers:
    """Upstream response headers worth passing to the client (rate-limit info, ids, types)."""
    out = [(k, v) for k, v in upstream if k not in _DROP_RESPONSE]
    for k, v in upstream:
        if k == b"x-request-id":
            out.append((b"x-upstream-request-id", v))
    return out


class HTTPProvider:
    """Shared behaviour of providers reached over HTTP. What differs per provider type (its
    protocol, auth, capabilities) comes from its descriptor
    (:class:`~turnout.providers.descriptor.ProviderType`), read once here; subclasses build
    URLs (:meth:`url`, from :attr:`paths` when the operation is a fixed path)."""

    # Client headers forwarded to this provider's protocol when the client speaks it too.
    passthrough_headers: ClassVar[frozenset[bytes]] = frozenset()
    # operation -> path under the base URL, for providers whose URLs are fixed paths
    paths: ClassVar[Mapping[str, str]] = {}

    def __init__(self, spec: ProviderSpec, client: UpstreamClient) -> None:
        self.spec = spec
        self.client = client
        self.kind = provider_type(spec.type)
        self.protocol = self.kind.protocol  # the wire protocol spoken upstream
        self.wire = PROTOCOLS[self.protocol]  # its descriptor, for translated calls
        self._auth = self.kind.auth
        served = self.kind.operations
        # Capabilities: an operation the upstream does not serve has no path, and is refused.
        self._paths = {op: p for op, p in self.paths.items() if served is None or op in served}
        self.timeouts = Timeouts(
            connect=spec.connect_timeout, read=spec.read_timeout, total=spec.total_timeout
        )
        self._static_headers = [(k, v) for k, v in spec.headers]
        self._forward = spec.forward_headers

    # -- hooks -------------------------------------------------------------------------------
    def auth_headers(self, key: str) -> list[tuple[str, str]]:
        return self._auth.headers(key)

    def url(self, call: Call, upstream_model: str) -> str:
        try:
            return self.spec.base_url + self._paths[call.operation]
        except KeyError:
            raise self.unsupported(call.operation) from None

    def unsupported(self, operation: str) -> BadRequest:
        return BadRequest(
            f"The provider '{self.spec.name}' ({self.spec.type}) does not serve "
            f"'{operation}' requests; route this model to a provider that does"
        )

    def native_body(self, call: Call, upstream_model: str) -> bytes:
        """The client's own bytes when nothing changes; re-encoded only to rename the model."""
        if call.data.get("model") == upstream_model:
            return call.body
        return orjson.dumps({**call.data, "model": upstream_model})

    # -- the attempt --------------------------------------------------------------------------
    def request_headers(self, call: Call, key: str) -> list[tuple[str, str]]:
        headers = [
            ("content-type", "application/json"),
            ("accept-encoding", "identity"),
            ("x-request-id", call.request_id),
            *self.auth_headers(key),
        ]
        for name, value in call.headers.items():
            if name in self.passthrough_headers or (
                self._forward
                and name not in _CREDENTIALS
                and _matches(name.decode("latin-1"), self._forward)
            ):
                headers.append((name.decode("latin-1"), value.decode("latin-1")))
        headers.extend(self._static_headers)
        return headers

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        if call.protocol != self.protocol:
            from turnout.providers.translate import send_translated

            return await send_translated(self, call, deployment, key)
        upstream_model = deployment.upstream_model(call.model)
        body = self.native_body(call, upstream_model)
        resp = await self.client.request(
            "POST",
            self.url(call, upstream_model),
            self.request_headers(call, key),
            body,
            self.timeouts,
            self.spec.egress,
        )
        return await to_reply(resp, call.stream)

    async def close(self) -> None:
        return None


async def to_reply(resp: UpstreamResponse, stream: bool) -> Reply:
    """Relay an upstream response: whole body for JSON, chunk iterator for a 2xx stream."""
    headers = relay_headers(resp.headers)
    if stream and 200 <= resp.status < 300:
        return Reply(status=resp.status, headers=headers, chunks=resp.iter_chunks())
    body = await resp.read()
    return Reply(status=resp.status, headers=headers, body=body)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


__all__ = ["GatewayError", "HTTPProvider", "Provider", "relay_headers", "to_reply"]
