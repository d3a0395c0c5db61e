"""``streaming_mode: disabled``: a provider that is never asked for a stream.

Some upstreams cannot stream (a batch-only server, a proxy that buffers, a model behind a
moderation layer that must see the whole answer), yet clients ask for streams. For such a
provider every streaming call is sent as a plain one (the protocol's stream flag removed; for
Gemini, ``:generateContent`` instead of ``:streamGenerateContent``), and its complete answer is
replayed to the client as a well-formed stream of the client's protocol and variant (OpenAI's
usage chunk, Gemini with or without ``alt=sse``), the same conversion a cache hit of the other
form uses (:mod:`turnout.cache.convert`). Nothing changes for non-streaming calls, and nothing
at all for providers in the default mode: the wrapper is only built for disabled ones.

Errors stay errors: an upstream error status is returned as the error body it is (the router
classifies and fails over as for any failed attempt; no stream has started). The client sees
the stream after the whole answer arrived, so its first byte comes when the upstream's last
one did: that is what the setting trades for working with such upstreams.
"""

from __future__ import annotations

import orjson

from turnout.cache.convert import Unconvertible, body_to_stream
from turnout.cache.replay import Chunks
from turnout.config.compile import DeploymentSpec, ProviderSpec
from turnout.errors import BadRequest, UpstreamUnavailable
from turnout.protocols.descriptor import SAME_PROTOCOL, SPEECH
from turnout.protocols.registry import FAMILIES, PROTOCOLS
from turnout.providers.base import Provider
from turnout.types import Call, Reply, derived

# The body fields that ask for a stream, per protocol; Gemini asks through its path.
_STREAM_FIELDS = ("stream", "stream_options")
_BODY_HEADERS = frozenset({b"content-type", b"content-length", b"content-encoding"})
_SSE = (b"content-type", b"text/event-stream")
_JSON = (b"content-type", b"application/json")


class Unstreamed:
    """Wraps a provider: streaming calls go upstream as plain ones and come back as streams."""

    __slots__ = ("inner", "spec")

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.spec: ProviderSpec = inner.spec

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        if not call.stream:
            return await self.inner.send(call, deployment, key)
        family = FAMILIES.get((call.protocol, call.operation))
        if family == SPEECH and call.data.get("stream_format") != "sse":
            # Audio bytes: the upstream is asked for no stream, its answer read as it comes.
            return await self.inner.send(call, deployment, key)
        if family in SAME_PROTOCOL:
            # Only chat-like answers can be replayed as a stream (legacy completions cannot).
            raise BadRequest(
                f"The provider '{self.spec.name}' does not stream (streaming_mode: disabled) "
                f"and a '{call.operation}' answer cannot be replayed as a stream; "
                "send it with stream=false"
            )
        plain = plain_call(call)
        reply = await self.inner.send(plain, deployment, key)
        # What the attempt learned about the call (usage read from a translated answer).
        call.usage = plain.usage
        if not 200 <= reply.status < 300 or reply.chunks is not None:
            return reply
        variant = PROTOCOLS[call.protocol].variant(call)
        try:
            chunks = body_to_stream(variant, reply.body)
        except Unconvertible as exc:
            raise UpstreamUnavailable(
                f"upstream '{self.spec.name}': its answer cannot be replayed as a stream ({exc})"
            ) from None
        headers = [h for h in reply.headers if h[0] not in _BODY_HEADERS]
        headers.append(_SSE if variant.sse else _JSON)
        return Reply(reply.status, headers, chunks=Chunks(chunks))

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> object:
        """Everything else is the wrapped provider's (its protocol, for the keeper's probe)."""
        return getattr(self.inner, name)


def plain_call(call: Call) -> Call:
    """The call as a client that did not ask for a stream would have made it."""
    data = {k: v for k, v in call.data.items() if k not in _STREAM_FIELDS}
    body = orjson.dumps(data) if len(data) != len(call.data) else call.body
    return derived(call, stream=False, data=data, body=body, ir=None, usage=None, encoded=False)
