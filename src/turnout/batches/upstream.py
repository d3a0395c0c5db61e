"""Where a Message Batch goes, and the requests sent to that place.

A batch goes whole to one deployment: a provider of type ``anthropic`` (or the in-process
``mock``) that serves every model the batch names. The first model's deployments are tried in
priority order; the first provider that also serves every other model takes the batch, with
the first of its keys whose circuit is closed (else its first key). The record then pins the
provider and the key's fingerprint, and every later request about the batch goes there; a
provider or key removed by a reload leaves the batch unreachable (a 404).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from turnout.config.compile import Runtime
from turnout.errors import BadRequest, NotFound
from turnout.health.targets import KeyHealth
from turnout.providers.base import HTTPProvider, Provider, relay_headers, send_direct
from turnout.types import Call, Reply

if TYPE_CHECKING:
    from turnout.mock.batches import MockBatches

TYPES = ("anthropic", "mock")
GONE = "No message batch found with id '{}'."


@dataclass(frozen=True, slots=True)
class Holder:
    name: str  # the provider's name
    provider: HTTPProvider
    secret: str
    key_id: str  # the key's fingerprint ("" for a provider without keys)


def route(runtime: Runtime, models: Iterable[str]) -> tuple[str, dict[str, str]]:
    """The provider that takes a batch of ``models`` (public names, in order of first use),
    and each model's upstream name there."""
    wanted = list(dict.fromkeys(models))
    routes = []
    for model in wanted:
        found = runtime.resolve(model)
        if found is None:
            raise BadRequest(f"The model '{model}' does not exist.", param="requests")
        routes.append(found)
    first = sorted(routes[0].deployments, key=lambda d: d.priority)
    for candidate in first:
        spec = runtime.providers.get(candidate.provider)
        if spec is None or spec.type not in TYPES or candidate.api not in (None, "anthropic"):
            continue
        upstream: dict[str, str] = {}
        for model, r in zip(wanted, routes, strict=True):
            for d in sorted(r.deployments, key=lambda d: d.priority):
                if d.provider == candidate.provider and d.api in (None, "anthropic"):
                    upstream[model] = d.upstream_model(model)
                    break
        if len(upstream) == len(wanted):
            return candidate.provider, upstream
    raise BadRequest(
        "No single Anthropic deployment serves every model of this batch "
        f"({', '.join(wanted[:10])}): send them in separate batches.",
        param="requests",
    )


@dataclass(slots=True)
class Holders:
    """The live providers and keys (after a reload, what was removed reaches nothing)."""

    providers: Callable[[], Mapping[str, Provider]]
    keys: Callable[[], Iterable[KeyHealth]]
    # The in-process mock's batches (``type: mock``), made on first use: a gateway without
    # such a provider never imports the mock (tests/integration/test_lean_start.py).
    _mock: MockBatches | None = None

    def mock(self) -> MockBatches:
        if self._mock is None:
            from turnout.mock.batches import MockBatches

            self._mock = MockBatches()
        return self._mock

    def pick(self, name: str) -> Holder:
        provider = self.providers().get(name)
        if not isinstance(provider, HTTPProvider):
            raise BadRequest(f"The provider '{name}' is not available.")
        now = time.monotonic()
        keys = [k for k in self.keys() if k.provider == name]
        usable = [k for k in keys if k.usable(now)] or keys
        if not usable:
            return Holder(name, provider, "", "")
        return Holder(name, provider, usable[0].secret, usable[0].fingerprint)

    def find(self, name: str, key_id: str, batch_id: str) -> Holder:
        provider = self.providers().get(name)
        if isinstance(provider, HTTPProvider):
            if not key_id:
                return Holder(name, provider, "", "")
            for key in self.keys():
                if key.provider == name and key.fingerprint == key_id:
                    return Holder(name, provider, key.secret, key_id)
        raise NotFound(GONE.format(batch_id))

    async def send(
        self, holder: Holder, method: str, path: str, body: bytes, call: Call, stream: bool
    ) -> Reply:
        """One request to the holder: ``path`` under its base URL, with the headers the
        provider sends on every request; an answer never carries the key it was sent with."""
        provider = holder.provider
        headers = provider.request_headers(call, holder.secret)
        if provider.spec.type == "mock":
            return await self._from_mock(method, path, headers, body, stream)
        return await send_direct(provider, holder.secret, method, path, headers, body, stream)

    async def _from_mock(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes, stream: bool
    ) -> Reply:
        target, _, query = path.partition("?")
        resp = self.mock().respond(method, target, query, dict(headers), body)
        out = relay_headers([(k.encode(), v.encode()) for k, v in resp.headers])
        data = resp.body or b""
        if stream and resp.status < 300:
            return Reply(resp.status, out, b"", _once(data))
        return Reply(resp.status, out, data)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
