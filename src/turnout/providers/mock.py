"""The built-in mock provider, in process: ``--demo`` and tests get a working model with no
network hop and no key. It speaks every client protocol natively (the mock engine answers
OpenAI, Anthropic and Gemini requests alike), so no translation is involved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from turnout.config.compile import DeploymentSpec, ProviderSpec
from turnout.errors import UpstreamTimeout, UpstreamUnavailable
from turnout.protocols.gemini.routes import sse_requested
from turnout.providers.base import HTTPProvider, relay_headers
from turnout.providers.descriptor import ProviderType
from turnout.types import Call, Reply
from turnout.upstream.base import UpstreamClient

_PATHS = {
    ("openai", "chat"): "/v1/chat/completions",
    ("openai", "embeddings"): "/v1/embeddings",
    ("openai", "completions"): "/v1/completions",
    ("openai", "moderations"): "/v1/moderations",
    ("openai", "images"): "/v1/images/generations",
    ("openai", "speech"): "/v1/audio/speech",
    ("openai", "transcriptions"): "/v1/audio/transcriptions",
    ("openai", "translations"): "/v1/audio/translations",
    ("openai", "image_edits"): "/v1/images/edits",
    ("openai", "image_variations"): "/v1/images/variations",
    ("anthropic", "messages"): "/v1/messages",
    ("anthropic", "count_tokens"): "/v1/messages/count_tokens",
    ("responses", "responses"): "/v1/responses",
    ("responses", "input_tokens"): "/v1/responses/input_tokens",
}


class MockProvider(HTTPProvider):
    def __init__(self, spec: ProviderSpec, client: UpstreamClient) -> None:
        super().__init__(spec, client)

    def _path(self, call: Call, upstream_model: str) -> tuple[str, str]:
        if call.protocol == "gemini":
            action, query = call.operation, ""
            if call.stream and action == "generateContent":
                action = "streamGenerateContent"
                query = "alt=sse" if sse_requested(call) else ""
            return f"/v1beta/models/{upstream_model}:{action}", query
        return _PATHS[(call.protocol, call.operation)], ""

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        # The mock's engine only in a gateway that routes to it (docs/measurements.md#memory).
        from turnout.mock.engine import respond
        from turnout.mock.timing import MockDisconnect, iter_frames, read_body

        upstream_model = deployment.upstream_model(call.model)
        body = call.body if call.protocol == "gemini" else self.native_body(call, upstream_model)
        path, query = self._path(call, upstream_model)
        headers = {name: value for name, value in self.request_headers(call, key)}
        resp = respond("POST", path, query, headers, body)
        # Like any upstream's answer: the mock's own request id becomes x-upstream-request-id
        # (the client sees one x-request-id, the gateway's), and the echo headers meant for
        # tests of an out-of-process mock (x-mock-*) stay inside.
        out = relay_headers(
            [(k.encode(), v.encode()) for k, v in resp.headers if not k.startswith("x-mock-")]
        )
        if resp.frames is not None and resp.status < 300:
            return Reply(resp.status, out, chunks=self._guard(iter_frames(resp)))
        try:
            async with asyncio.timeout(self.timeouts.read):
                data = await read_body(resp)
        except TimeoutError:
            raise UpstreamTimeout("mock provider did not answer in time") from None
        except MockDisconnect:
            raise UpstreamUnavailable("mock provider closed the connection") from None
        return Reply(resp.status, out, body=data)

    async def _guard(self, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Apply the read timeout per frame and turn mock faults into upstream errors."""
        from turnout.mock.timing import MockDisconnect

        it = aiter(frames)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.timeouts.read):
                        frame = await anext(it)
                except StopAsyncIteration:
                    return
                yield frame
        except TimeoutError:
            raise UpstreamTimeout("mock provider stalled mid-stream") from None
        except MockDisconnect:
            raise UpstreamUnavailable("mock provider closed the connection mid-stream") from None


MOCK = ProviderType(
    name="mock",
    protocol="openai",  # it answers every protocol natively; this one is for its probes
    provider=MockProvider,
    base_url="mock://in-process",
    needs_key=False,
    template="type: mock   # built-in mock provider, no key needed",
    otel_name="openai",
    summary="the built-in mock provider (demo, tests)",
)
