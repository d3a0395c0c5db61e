"""OpenAI's Batch API through the gateway (docs/openai-batches.md).

``/v1/files`` (upload with ``purpose=batch``, list), ``/v1/files/{id}`` (retrieve, delete),
``/v1/files/{id}/content``, ``/v1/batches`` (create, list), ``/v1/batches/{id}`` and
``/v1/batches/{id}/cancel``. A file goes whole to one provider (:mod:`.upstream`) and, like
the batches made from it and their output files, belongs to the gateway key that made it
(:mod:`.store`): another key, an unknown or malformed id gets a 404 in OpenAI's error shape
and never reaches an upstream; the master key and admin keys see everything. The handlers are
:mod:`.files` and :mod:`.batches`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from turnout.api.logged import serve_logged
from turnout.auth.guard import guard_client_route
from turnout.auth.principal import Principal
from turnout.batches import admission
from turnout.batches.upstream import Holders
from turnout.errors import NotFound
from turnout.observability.logging import get_logger
from turnout.openai_batches import batches, files
from turnout.openai_batches.common import FILES, ID, Making, owner_of, parse_path
from turnout.openai_batches.store import Kind, MemoryObjectStore, ObjectRecord, ObjectStore
from turnout.openai_batches.upstream import Upstreams
from turnout.types import Call, Receive, Reply, Scope, Send

if TYPE_CHECKING:
    from collections.abc import Iterable

    from turnout.health.targets import KeyHealth
    from turnout.state import GatewayState

log = get_logger("turnout")


class OpenAIBatchService:
    """The OpenAI batch routes of one gateway: their store (the storage's, else in memory),
    the providers and keys that hold files and batches, and the in-process mock's."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.store: ObjectStore = MemoryObjectStore()
        self.making = Making()  # the uploads and creations in flight here, per key
        self.upstreams = Upstreams(Holders(lambda: state.providers, lambda: ()))
        self._guarded = guard_client_route(state, self._serve)

    def reach(self, store: ObjectStore | None, keys: Any) -> None:
        """At startup: the storage's store, and the health board's keys."""
        if store is not None:
            self.store = store

        def all_keys() -> Iterable[KeyHealth]:
            return keys()  # type: ignore[no-any-return]

        self.upstreams.holders.keys = all_keys

    @staticmethod
    def claims(scope: Scope) -> bool:
        return parse_path(scope) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._guarded(scope, receive, send)

    async def record(
        self, object_id: str, kinds: tuple[Kind, ...], principal: Principal | None, gone: str
    ) -> ObjectRecord:
        """The caller's object: a 404 for a malformed id, another key's, or none at all."""
        if ID.fullmatch(object_id) is None:
            raise NotFound(gone.format(object_id[:200]))
        _, lookup = owner_of(principal)
        found = await self.store.get(object_id, kinds, lookup)
        if found is None:
            raise NotFound(gone.format(object_id))
        return found

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        parsed = parse_path(scope)
        assert parsed is not None
        prefix, object_id, action = parsed
        group = "files" if prefix == FILES else "batches"
        serve = files.serve if prefix == FILES else batches.serve

        held: list[Any] = []  # the request's ticket (admission): freed however it ends

        async def handler(call: Call, principal: Principal | None) -> Reply:
            rated = await admission.admit(self.state.auth, principal, held)
            reply = await serve(self, action, object_id, receive, call, principal)
            reply.headers.extend(rated)
            return reply

        async def release() -> None:
            admission.release(self.state.auth, held)

        operation = f"{group}.{action}"
        await serve_logged(self.state, scope, receive, send, "openai", operation, handler, release)


__all__ = ["OpenAIBatchService"]
