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
import re
from collections.abc import Mapping
from typing import ClassVar, Protocol

import orjson

from turnout.config.compile import DeploymentSpec, ProviderSpec
from turnout.errors import GatewayError, OperationUnsupported
from turnout.headers import NEVER_RELAY, forwardable
from turnout.protocols import form
from turnout.protocols.registry import PROTOCOLS
from turnout.providers.descriptor import Auth
from turnout.providers.keymask import key_bytes, masked_headers, without_key
from turnout.providers.registry import provider_type
from turnout.providers.relay import check_status, read_body
from turnout.types import Call, Headers, Reply
from turnout.upstream.base import Timeouts, UpstreamClient, UpstreamResponse


class Provider(Protocol):
    spec: ProviderSpec

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        """Make one upstream attempt; raise GatewayError for transport-level failures."""
        ...

    async def close(self) -> None: ...


def relay_headers(upstream: list[tuple[bytes, bytes]]) -> Headers:
    """Upstream response headers worth passing to the client (rate-limit info, ids, types)."""
    out = [(k, v) for k, v in upstream if k not in NEVER_RELAY]
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
        self.also = self.kind.also_speaks  # other protocols it speaks, forwarded as bytes
        # Operations whose bodies are multipart forms (forwarded with their own content type).
        self._forms = frozenset().union(*(PROTOCOLS[p].forms for p in (self.protocol, *self.also)))
        self._auth = Auth(*spec.token_header) if spec.token_header else self.kind.auth
        served = self.kind.operations
        # Capabilities: an operation the upstream does not serve has no path, and is refused.
        self._paths = {op: p for op, p in self.paths.items() if served is None or op in served}
        self.timeouts = Timeouts(
            connect=spec.connect_timeout, read=spec.read_timeout, total=spec.total_timeout
        )
        self._static_headers = [(k, v) for k, v in spec.headers]
        # One regex for all of forward_headers' globs; None when nothing is forwarded.
        self._forward = (
            re.compile("|".join(fnmatch.translate(p) for p in spec.forward_headers))
            if spec.forward_headers
            else None
        )

    # -- hooks -------------------------------------------------------------------------------
    def auth_headers(self, key: str) -> list[tuple[str, str]]:
        return self._auth.headers(key)

    def url(self, call: Call, upstream_model: str) -> str:
        try:
            return self.spec.base_url + self._paths[call.operation]
        except KeyError:
            raise self.unsupported(call.operation) from None

    def unsupported(self, operation: str) -> OperationUnsupported:
        return OperationUnsupported(
            f"The provider '{self.spec.name}' ({self.spec.type}) does not serve "
            f"'{operation}' requests; route this model to a provider that does"
        )

    def native_body(self, call: Call, upstream_model: str) -> bytes:
        """The client's own bytes when nothing changes; re-encoded only to rename the model."""
        if call.data.get("model") == upstream_model:
            return call.body
        if call.operation in self._forms:
            return form.renamed(call.body, call.headers[b"content-type"], "model", upstream_model)
        return orjson.dumps({**call.data, "model": upstream_model})

    # -- the attempt --------------------------------------------------------------------------
    def request_headers(self, call: Call, key: str) -> list[tuple[str, str]]:
        kind = "application/json"
        if call.operation in self._forms:  # a form: its boundary, checked when it was read
            kind = form.content_type(call.headers[b"content-type"])
        headers = [
            ("content-type", kind),
            ("accept-encoding", "identity"),
            ("x-request-id", call.request_id),
            *self.auth_headers(key),
        ]
        forward = self._forward
        for name, value in call.headers.items():
            if name in self.passthrough_headers or (
                forward is not None
                and forwardable(name)  # never framing, hop-by-hop or credentials (headers.py)
                and forward.match(name.decode("latin-1")) is not None
            ):
                headers.append((name.decode("latin-1"), value.decode("latin-1")))
        headers.extend(self._static_headers)
        return headers

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        api = deployment.api  # a deployment may name another API of the provider's
        if (api is not None and call.protocol != api) or (
            api is None and call.protocol != self.protocol and call.protocol not in self.also
        ):
            from turnout.providers.translate import send_translated

            return await send_translated(self, call, deployment, key)
        call.translated = False
        upstream_model = deployment.upstream_model(call.model)
        body = self.native_body(call, upstream_model)
        resp = await self.exchange(call, upstream_model, body, key)
        return await to_reply(resp, call.stream, self.spec)

    async def exchange(
        self, call: Call, upstream_model: str, body: bytes, key: str
    ) -> UpstreamResponse:
        """One request to the upstream for ``call`` (already in this provider's protocol, same
        or translated) and its response. The hook cloud providers override: they obtain a
        token, sign the request or rewrap the body and the answer (providers/clouds/)."""
        return await self.client.request(
            "POST",
            self.url(call, upstream_model),
            self.request_headers(call, key),
            body,
            self.timeouts,
            self.spec.egress,
        )

    async def close(self) -> None:
        return None


async def to_reply(resp: UpstreamResponse, stream: bool, spec: ProviderSpec) -> Reply:
    """Relay an upstream response: whole body for JSON, chunk iterator for a 2xx stream.
    A status that is not a final HTTP status, or a body over the provider's cap, is the
    upstream's failure (turnout.providers.relay)."""
    check_status(resp, spec.name)
    headers = relay_headers(resp.headers)
    if stream and 200 <= resp.status < 300:
        return Reply(resp.status, headers, b"", resp.iter_chunks())  # positional: no kwargs dict
    body = await read_body(resp, spec.max_response_bytes, spec.name)
    return Reply(resp.status, headers, body)


async def send_direct(
    provider: HTTPProvider,
    secret: str,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    stream: bool,
) -> Reply:
    """One request to a provider outside a routed call (a stored object's holder: a stored
    response, a message batch): ``path`` under its base URL, through the provider's egress,
    its answer relayed as it came but never with the key it was sent with (keymask)."""
    resp = await provider.client.request(
        method,
        provider.spec.base_url + path,
        headers,
        body,
        provider.timeouts,
        provider.spec.egress,
    )
    reply = await to_reply(resp, stream, provider.spec)
    raw = key_bytes(secret)
    if raw is not None:
        reply.headers = masked_headers(reply.headers, raw)
        if reply.chunks is None:
            reply.body = without_key(reply.body, secret)
    return reply


__all__ = ["GatewayError", "HTTPProvider", "Provider", "relay_headers", "send_direct", "to_reply"]
