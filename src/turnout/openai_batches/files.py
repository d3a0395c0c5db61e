"""``/v1/files``: batch input files uploaded through the gateway, and the output and error
files of the batches made from them (see :mod:`.routes` for ownership, :mod:`.lines` for the
checks of an upload, :mod:`.accounting` for the usage of an output file)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from turnout.api.io import read_body
from turnout.auth.principal import Principal
from turnout.batches import accounting as shared_accounting
from turnout.errors import BadRequest, PermissionDenied, UpstreamInvalid
from turnout.openai_batches import accounting, lines, upstream
from turnout.openai_batches.common import (
    checked,
    limit_of,
    listing,
    owner_of,
    query_of,
)
from turnout.openai_batches.store import ALL, FILES, Kind, ObjectRecord
from turnout.types import Call, Receive, Reply

if TYPE_CHECKING:
    from turnout.openai_batches.routes import OpenAIBatchService

GONE = "No such File object: {}"
FORM_ROOM = 64 * 1024  # the form around the file: its boundaries, headers and purpose
PURPOSES: dict[str, tuple[Kind, ...]] = {"batch": ("input",), "batch_output": ("output",)}


async def serve(
    svc: OpenAIBatchService,
    action: str,
    file_id: str,
    receive: Receive,
    call: Call,
    principal: Principal | None,
) -> Reply:
    if action == "upload":
        return await _upload(svc, receive, call, principal)
    if action == "list":
        return await _list(svc, call, principal)
    record = await svc.record(file_id, FILES, principal, GONE)
    holder = svc.upstreams.find(record.provider, record.key_id, GONE.format(file_id))
    _describe(call, record)
    path = f"/files/{file_id}"
    if action == "content":
        reply = await svc.upstreams.send(holder, "GET", path + "/content", b"", call, True)
        if reply.chunks is None or record.kind != "output":
            return reply
        reply.chunks = _counted(svc, reply.chunks, record, call)
        return reply
    method = "GET" if action == "retrieve" else "DELETE"
    reply = await svc.upstreams.send(holder, method, path, b"", call, False)
    if 200 <= reply.status < 300:
        obj = checked(reply.body, "file", file_id)
        reply.body = orjson.dumps(obj)
        if action == "delete":
            await svc.store.delete(file_id)
        else:
            await svc.store.update(file_id, reply.body, None)
    return reply


def _describe(call: Call, record: ObjectRecord) -> None:
    models: dict[str, str] = orjson.loads(record.models)
    call.model = next(iter(models.values()), "")
    call.deployment = f"{record.provider}/{next(iter(models), '')}"
    call.attempts = 1


async def _upload(
    svc: OpenAIBatchService, receive: Receive, call: Call, principal: Principal | None
) -> Reply:
    state = svc.state
    config = state.runtime.config
    most = int(config.storage.batch_file_mb * 1024 * 1024)
    content_type = call.headers.get(b"content-type", b"")
    body = await read_body(
        receive, call.headers, most + FORM_ROOM, state.bodies, config.server.max_held_body_bytes
    )
    try:
        return await _upload_read(svc, body, content_type, most, call, principal)
    finally:
        state.bodies.release(body)


async def _upload_read(
    svc: OpenAIBatchService,
    body: bytes,
    content_type: bytes,
    most: int,
    call: Call,
    principal: Principal | None,
) -> Reply:
    """The upload, its form ``body`` held (and counted in the held bodies) until the file
    sent on is written."""
    state = svc.state
    config = state.runtime.config
    filename, start, end = lines.read_form(body, content_type, most)
    upload = lines.check(filename, body, start, end)
    if principal is not None:
        for model in upload.models:
            if not principal.allows(model):
                raise PermissionDenied(f"This API key may not use the model '{model}'.")
    owner, _ = owner_of(principal)
    cap = config.storage.batches_per_key
    async with svc.making.slot(
        owner,
        "input",
        cap,
        lambda: svc.store.count(owner, "input"),
        f"This API key holds {cap} batch files, the most it may: delete some first.",
    ):
        provider, names = upstream.route(state.runtime, upload.models)
        kind, form = lines.upstream_form(upload, names)
        holder = svc.upstreams.pick(provider)
        call.model = upload.models[0]
        call.deployment = f"{provider}/{names[upload.models[0]]}"
        call.attempts = 1
        reply = await svc.upstreams.send(holder, "POST", "/files", form, call, False, kind)
        if not 200 <= reply.status < 300:
            return reply
        obj = checked(reply.body, "file")
        reply.body = orjson.dumps(obj)
        models = orjson.dumps({up: public for public, up in reversed(names.items())})
        record = ObjectRecord(
            obj["id"],
            "input",
            owner,
            provider,
            holder.key_id,
            models,
            upload.endpoint,
            time.time(),
            reply.body,
        )
        held = await svc.store.get(record.id, ALL, None)
        if held is not None and (held.kind, held.owner, held.provider, held.key_id) != (
            "input",
            owner,
            provider,
            holder.key_id,
        ):  # another key's object, a batch or an output file: never taken over
            raise UpstreamInvalid("The upstream answered with an id the gateway already holds.")
        await svc.store.put(record)
        return reply


async def _list(svc: OpenAIBatchService, call: Call, principal: Principal | None) -> Reply:
    """OpenAI's parameters: ``limit`` (1 to 10,000, all by default), ``order`` (``desc``,
    newest first, by default; ``asc``), ``after`` (a file of the caller's: the page past it
    in that order) and ``purpose`` (a purpose the gateway holds no file of: an empty list)."""
    query = query_of(call)
    limit = limit_of(query, 10_000, 10_000)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest("order: 'asc' or 'desc'.", param="order")
    purpose = query.get("purpose")
    kinds = FILES if purpose is None else PURPOSES.get(purpose, ())
    after = None
    if (cursor := query.get("after")) is not None:
        after = await svc.record(cursor, FILES, principal, GONE)
    _, lookup = owner_of(principal)
    ascending = order == "asc"
    page = await svc.store.page(lookup, kinds, after, limit + 1, ascending) if kinds else []
    more, page = len(page) > limit, page[:limit]
    return listing(page, (r.object for r in page), more)


async def _counted(
    svc: OpenAIBatchService,
    chunks: AsyncIterator[bytes],
    record: ObjectRecord,
    call: Call,
) -> AsyncIterator[bytes]:
    """The output file as it came, its lines' usage counted on the way (once per line) and
    charged to the batch's owner, whoever reads it."""

    def claim(seen: int, lines: int) -> Any:
        return svc.store.claim(record.id, seen, lines)

    tally = accounting.OutputTally(orjson.loads(record.models), record.accounted)
    charged = shared_accounting.owner(svc.state.auth, record.owner)
    async for chunk in shared_accounting.counted(
        tally, chunks, claim, call, charged, record.provider, svc.state
    ):
        yield chunk


__all__: list[Any] = ["serve"]
