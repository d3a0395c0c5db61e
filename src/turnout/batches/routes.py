"""Anthropic's Message Batches API through the gateway (docs/batches.md).

``POST /v1/messages/batches`` (create), ``GET /v1/messages/batches`` (list),
``GET``/``DELETE /v1/messages/batches/{id}``, ``POST …/{id}/cancel`` and
``GET …/{id}/results``. A batch goes whole to one deployment (:mod:`.upstream`) and belongs
to the gateway key that made it (:mod:`.store`): another key, an unknown or malformed id gets
a 404 in Anthropic's error shape and never reaches an upstream; the master key and admin keys
see every batch. A batch object's ``results_url`` is rewritten to the gateway's own path
(relative: the SDK joins it to its base URL), so results are read through the gateway, and
accounted there (:mod:`.accounting`).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from turnout.api.io import JSON, read_body
from turnout.api.logged import serve_logged
from turnout.auth.guard import guard_client_route
from turnout.auth.principal import MASTER, Principal
from turnout.batches import accounting, admission, upstream
from turnout.batches.bodies import ID as _ID
from turnout.batches.bodies import MAX_MODELS, MAX_REQUESTS, PREFIX, read_batch, rewritten
from turnout.batches.store import BatchRecord, BatchStore, MemoryBatchStore
from turnout.errors import (
    BadRequest,
    NotFound,
    TooManyHeld,
)
from turnout.observability.logging import get_logger
from turnout.types import Call, Receive, Reply, Scope, Send

if TYPE_CHECKING:
    from collections.abc import Iterable

    from turnout.health.targets import KeyHealth
    from turnout.state import GatewayState

REFRESH_AT_ONCE = 8  # a listing asks the holders about this many batches at a time
# ... and about this many in all: a page of a thousand batches in progress would otherwise
# be a thousand upstream requests (on the provider's key and rate limits) per listing.
REFRESH_MOST = 20
ENDED = b'"processing_status":"ended"'  # as orjson writes the stored batch
_ACTIONS = {
    ("POST", ""): "create",
    ("GET", ""): "list",
    ("GET", "/"): "retrieve",
    ("DELETE", "/"): "delete",
    ("POST", "/cancel"): "cancel",
    ("GET", "/results"): "results",
}
log = get_logger("turnout")


def _parse(scope: Scope) -> tuple[str, str] | None:
    """The batch id ("" for the collection) and the action; None for a path not served."""
    path: str = scope["path"]
    if path == PREFIX:
        action = _ACTIONS.get((scope["method"], ""))
        return None if action is None else ("", action)
    if not path.startswith(PREFIX + "/"):
        return None
    batch_id, slash, rest = path[len(PREFIX) + 1 :].partition("/")
    action = _ACTIONS.get((scope["method"], "/" + rest if slash else "/"))
    return None if action is None or not batch_id else (batch_id, action)


def _owner(principal: Principal | None) -> tuple[str, str | None]:
    """The caller's owner id, and the owner a lookup needs (None: every batch)."""
    if principal is None:
        return "", ""
    sees_all = principal is MASTER or principal.admin
    return principal.id, None if sees_all else principal.id


class BatchService:
    """The batches routes of one gateway: their store (the storage's, else in memory), the
    providers and keys that hold batches, and the in-process mock's batches."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.store: BatchStore = MemoryBatchStore()
        self.holders = upstream.Holders(lambda: state.providers, lambda: ())
        self._guarded = guard_client_route(state, self._serve)

    def reach(self, store: BatchStore | None, keys: Any) -> None:
        """At startup: the storage's store, and the health board's keys."""
        if store is not None:
            self.store = store

        def all_keys() -> Iterable[KeyHealth]:
            return keys()  # type: ignore[no-any-return]

        self.holders.keys = all_keys

    @staticmethod
    def claims(scope: Scope) -> bool:
        return _parse(scope) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._guarded(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        parsed = _parse(scope)
        assert parsed is not None
        batch_id, action = parsed
        opened: list[Any] = []  # upstream streams: closed however the request ends
        held: list[Any] = []  # the request's ticket (admission): freed however it ends

        async def handler(call: Call, principal: Principal | None) -> Reply:
            rated = await admission.admit(self.state.auth, principal, held)
            if action == "create":
                reply = await self._create(receive, call, principal)
            elif action == "list":
                reply = await self._list(call, principal)
            else:
                reply = await self._one(batch_id, action, call, principal, opened)
            reply.headers.extend(rated)
            return reply

        async def close_opened() -> None:
            try:
                for stream in opened:  # a relay never started (the client left first) too
                    await accounting.close(stream)
            finally:
                admission.release(self.state.auth, held)

        await serve_logged(
            self.state,
            scope,
            receive,
            send,
            "anthropic",
            f"batches.{action}",
            handler,
            close_opened,
        )

    async def _create(self, receive: Receive, call: Call, principal: Principal | None) -> Reply:
        state = self.state
        server = state.runtime.config.server
        body = await read_body(
            receive, call.headers, server.max_body_bytes, state.bodies, server.max_held_body_bytes
        )
        try:
            data, models = read_batch(body)
        finally:
            state.bodies.release(body)
        owner, _ = _owner(principal)
        auth = state.auth
        if auth is not None and auth.active:
            await accounting.admit(auth, principal, models)
        most = state.runtime.config.storage.batches_per_key
        if await self.store.count(owner) >= most:
            raise TooManyHeld(
                f"This API key holds {most} message batches, the most it may: "
                "delete some before creating another."
            )
        provider, names = upstream.route(state.runtime, models)
        for item in data["requests"]:
            params = item["params"]
            params["model"] = names[params["model"]]
        holder = self.holders.pick(provider)
        call.model = models[0]
        call.deployment = f"{provider}/{names[models[0]]}"
        call.attempts = 1
        reply = await self.holders.send(holder, "POST", PREFIX, orjson.dumps(data), call, False)
        if not 200 <= reply.status < 300:
            return reply
        batch_id, reply.body = rewritten(reply.body)
        models_json = orjson.dumps({up: public for public, up in reversed(names.items())})
        record = BatchRecord(
            batch_id, owner, provider, holder.key_id, models_json, time.time(), reply.body
        )
        await self.store.put(record)
        return reply

    async def _list(self, call: Call, principal: Principal | None) -> Reply:
        query = dict(parse_qsl(call.query.decode("latin-1")[:4096]))
        raw = query.get("limit", "20")
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise BadRequest("limit: an integer from 1 to 1000.", param="limit")
        limit = int(raw)
        _, lookup = _owner(principal)
        after = before = None
        if "after_id" in query and "before_id" in query:  # two directions: neither is served
            raise BadRequest("Give after_id or before_id, not both.", param="before_id")
        for name in ("after_id", "before_id"):
            if (cursor := query.get(name)) is not None:
                record = await self._record(cursor, lookup)
                if name == "after_id":
                    after = record.created
                else:
                    before = record.created
        page = await self.store.page(lookup, after, before, limit + 1)
        more = len(page) > limit
        # Newest first either way; going back (``before_id`` alone) the one past the page is
        # its newest, not the one next to the cursor.
        page = page[1:] if more and before is not None and after is None else page[:limit]
        gate = asyncio.Semaphore(REFRESH_AT_ONCE)
        asked = {r.id for r in [r for r in page if not _ended(r.batch)][:REFRESH_MOST]}
        fresh = await asyncio.gather(*(self._fresh(r, call, gate, r.id in asked) for r in page))
        data = [orjson.Fragment(b) for b in fresh]
        body = orjson.dumps(
            {
                "data": data,
                "has_more": more,
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
            }
        )
        return Reply(200, [JSON], body)

    async def _fresh(
        self, record: BatchRecord, call: Call, gate: asyncio.Semaphore, ask: bool = True
    ) -> bytes:
        """The batch as its holder has it now (one that had ended as last seen: it no longer
        changes); as last seen if asking fails."""
        if not ask or _ended(record.batch):
            return record.batch
        try:
            holder = self.holders.find(record.provider, record.key_id, record.id)
            async with gate:
                reply = await self.holders.send(
                    holder, "GET", f"{PREFIX}/{record.id}", b"", call, False
                )
            if reply.status == 200:
                _, body = rewritten(reply.body, record.id)
                await self.store.update(record.id, body, None)
                return body
        except Exception as exc:  # one unreachable holder must not fail the listing
            log.warning("batch not refreshed", batch=record.id, error=repr(exc)[:200])
        return record.batch

    async def _record(self, batch_id: str, lookup: str | None) -> BatchRecord:
        gone = NotFound(upstream.GONE.format(batch_id[:200]))
        if _ID.fullmatch(batch_id) is None:
            raise gone
        record = await self.store.get(batch_id, lookup)
        if record is None:
            raise gone
        return record

    async def _one(
        self,
        batch_id: str,
        action: str,
        call: Call,
        principal: Principal | None,
        opened: list[Any] | None = None,
    ) -> Reply:
        _, lookup = _owner(principal)
        record = await self._record(batch_id, lookup)
        holder = self.holders.find(record.provider, record.key_id, batch_id)
        models: dict[str, str] = orjson.loads(record.models)
        call.model = next(iter(models.values()), "")
        call.deployment = f"{record.provider}/{next(iter(models), '')}"
        call.attempts = 1
        path = f"{PREFIX}/{batch_id}"
        if action == "results":
            return await self._results(record, holder, path, call, principal, models, opened)
        method = {"retrieve": "GET", "delete": "DELETE", "cancel": "POST"}[action]
        if action == "cancel":
            path += "/cancel"
        reply = await self.holders.send(holder, method, path, b"", call, False)
        if 200 <= reply.status < 300:
            if action == "delete":
                await self.store.delete(batch_id)
            else:
                _, reply.body = rewritten(reply.body, batch_id)
                await self.store.update(batch_id, reply.body, None)
        return reply

    async def _results(
        self,
        record: BatchRecord,
        holder: upstream.Holder,
        path: str,
        call: Call,
        principal: Principal | None,
        models: dict[str, str],
        opened: list[Any] | None,
    ) -> Reply:
        reply = await self.holders.send(holder, "GET", path + "/results", b"", call, True)
        if reply.chunks is not None:
            if opened is not None:
                opened.append(reply.chunks)
            reply.chunks = self._counted(record, reply.chunks, call, models)
        return reply

    async def _counted(
        self,
        record: BatchRecord,
        chunks: Any,
        call: Call,
        models: dict[str, str],
    ) -> Any:
        """The relay, from its first chunk asked for to its end however it ends: the
        tickets are taken inside (a relay never started holds none), and its end closes the
        upstream, claims the lines read (:meth:`BatchStore.claim`) and finishes every ticket,
        whatever of that is cancelled."""

        def claim(seen: int, lines: int) -> Any:
            return self.store.claim(record.id, seen, lines)

        tally = accounting.Tally(models, record.accounted)
        charged = accounting.owner(self.state.auth, record.owner)
        async for chunk in accounting.counted(
            tally, chunks, claim, call, charged, record.provider, self.state
        ):
            yield chunk


def _ended(batch: bytes) -> bool:
    """The stored batch's own ``processing_status`` is ``ended`` (not a nested field an
    upstream named so: that batch would never be asked about again)."""
    if ENDED not in batch:
        return False
    try:
        found = orjson.loads(batch)
    except orjson.JSONDecodeError:
        return False
    return isinstance(found, dict) and found.get("processing_status") == "ended"


__all__ = ["MAX_MODELS", "MAX_REQUESTS", "PREFIX", "BatchService"]
