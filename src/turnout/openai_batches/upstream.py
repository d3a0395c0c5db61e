"""Where an OpenAI batch file goes, and the requests sent to that place.

A batch input file goes whole to one provider of type ``openai`` (or the in-process
``mock``) that serves every model its lines name (each model's first deployment there, by
priority, gives the upstream name). The first model's deployments are tried in priority
order; the first provider that also serves every other model takes the file, with the first
of its keys whose circuit is closed (:meth:`turnout.batches.upstream.Holders.pick`). A batch
made from the file goes to the same provider and key, and so do its output files; a provider
or key removed by a reload leaves them unreachable (a 404).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from turnout.batches.upstream import Holder, Holders
from turnout.config.compile import Runtime
from turnout.errors import BadRequest, NotFound
from turnout.providers.base import relay_headers, send_direct
from turnout.types import Call, Reply

if TYPE_CHECKING:
    from turnout.mock.openai_batches import MockOpenAIBatches

TYPES = ("openai", "mock")


def route(runtime: Runtime, models: Iterable[str]) -> tuple[str, dict[str, str]]:
    """The provider that takes a file naming ``models`` (public names, in order of first
    use), and each model's upstream name there."""
    wanted = list(dict.fromkeys(models))
    routes = []
    for model in wanted:
        found = runtime.resolve(model)
        if found is None:
            raise BadRequest(f"The model '{model}' does not exist.", param="file")
        routes.append(found)
    for candidate in sorted(routes[0].deployments, key=lambda d: d.priority):
        spec = runtime.providers.get(candidate.provider)
        if spec is None or spec.type not in TYPES or candidate.api is not None:
            continue
        upstream: dict[str, str] = {}
        for model, r in zip(wanted, routes, strict=True):
            for d in sorted(r.deployments, key=lambda d: d.priority):
                if d.provider == candidate.provider and d.api is None:
                    upstream[model] = d.upstream_model(model)
                    break
        if len(upstream) == len(wanted):
            return candidate.provider, upstream
    raise BadRequest(
        "No single OpenAI deployment serves every model of this file "
        f"({', '.join(wanted[:10])}): put them in separate files.",
        param="file",
    )


@dataclass(slots=True)
class Upstreams:
    """The live providers and keys (those of :class:`Holders`), and the in-process mock's
    files and batches, made on first use (a gateway without a mock provider never imports
    the mock: tests/integration/test_lean_start.py)."""

    holders: Holders
    _mock: MockOpenAIBatches | None = field(default=None)

    def mock(self) -> MockOpenAIBatches:
        if self._mock is None:
            from turnout.mock.openai_batches import MockOpenAIBatches

            self._mock = MockOpenAIBatches()
        return self._mock

    def pick(self, name: str) -> Holder:
        return self.holders.pick(name)

    def find(self, name: str, key_id: str, gone: str) -> Holder:
        try:
            return self.holders.find(name, key_id, "")
        except NotFound:
            raise NotFound(gone) from None

    async def send(
        self,
        holder: Holder,
        method: str,
        path: str,
        body: bytes,
        call: Call,
        stream: bool,
        content_type: str | None = None,
    ) -> Reply:
        """One request to the holder: ``path`` under its base URL (``/v1`` is the base URL's
        for an OpenAI provider), with the headers the provider sends on every request."""
        provider = holder.provider
        headers = provider.request_headers(call, holder.secret)
        if content_type is not None:
            headers = [(k, content_type if k == "content-type" else v) for k, v in headers]
        if provider.spec.type == "mock":
            target, _, query = path.partition("?")
            resp = self.mock().respond(method, "/v1" + target, query, dict(headers), body)
            out = relay_headers([(k.encode(), v.encode()) for k, v in resp.headers])
            data = resp.body or b""
            if stream and resp.status < 300:
                return Reply(resp.status, out, b"", _once(data))
            return Reply(resp.status, out, data)
        return await send_direct(provider, holder.secret, method, path, headers, body, stream)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
