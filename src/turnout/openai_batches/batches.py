"""``/v1/batches``: batches made through the gateway from the caller's input files.

A batch goes to the provider and key that hold its input file, and its output and error
files are recorded as the caller's (readable through ``/v1/files/{id}/content``, where their
usage is counted) as soon as a batch object names them. At creation every model of the file
must be allowed to the key and each model's plan is admitted once
(:func:`turnout.batches.accounting.admit`); the cost is counted when the output is read.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import orjson

from turnout.api.io import read_body
from turnout.auth.principal import Principal
from turnout.batches import accounting
from turnout.errors import BadRequest, GatewayError, UpstreamInvalid
from turnout.observability.logging import get_logger
from turnout.openai_batches.common import ID, checked, limit_of, listing, owner_of, query_of
from turnout.openai_batches.files import GONE as FILE_GONE
from turnout.openai_batches.store import ALL, ObjectRecord
from turnout.types import Call, Receive, Reply

if TYPE_CHECKING:
    from turnout.batches.upstream import Holder
    from turnout.openai_batches.routes import OpenAIBatchService

GONE = "No batch found with id '{}'."
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})
OUTPUTS = ("output_file_id", "error_file_id")
REFRESH_AT_ONCE = 8  # a listing asks the holders about this many batches at a time
log = get_logger("turnout")


async def serve(
    svc: OpenAIBatchService,
    action: str,
    batch_id: str,
    receive: Receive,
    call: Call,
    principal: Principal | None,
) -> Reply:
    if action == "create":
        return await _create(svc, receive, call, principal)
    if action == "list":
        return await _list(svc, call, principal)
    record = await svc.record(batch_id, ("batch",), principal, GONE)
    holder = svc.upstreams.find(record.provider, record.key_id, GONE.format(batch_id))
    models: dict[str, str] = orjson.loads(record.models)
    call.model = next(iter(models.values()), "")
    call.deployment = f"{record.provider}/{next(iter(models), '')}"
    call.attempts = 1
    path = f"/batches/{batch_id}"
    method = "GET"
    if action == "cancel":
        path, method = path + "/cancel", "POST"
    reply = await svc.upstreams.send(holder, method, path, b"", call, False)
    if 200 <= reply.status < 300:
        reply.body = await _seen(svc, record, holder, reply.body, call)
    return reply


def _read(body: bytes) -> dict[str, Any]:
    """The create body: the fields the gateway reads, of the types OpenAI takes."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(data.get(name), str):
            raise BadRequest(f"{name}: a string is required.", param=name)
    if not isinstance(data.get("metadata", {}), dict | None):
        raise BadRequest("metadata: an object of strings.", param="metadata")
    return data


async def _create(
    svc: OpenAIBatchService, receive: Receive, call: Call, principal: Principal | None
) -> Reply:
    state = svc.state
    server = state.runtime.config.server
    body = await read_body(
        receive, call.headers, server.max_body_bytes, state.bodies, server.max_held_body_bytes
    )
    try:
        data = _read(body)
    finally:
        state.bodies.release(body)
    file = await svc.record(data["input_file_id"], ("input",), principal, FILE_GONE)
    if data["endpoint"] != file.endpoint:
        raise BadRequest(
            f"endpoint: the input file's lines call {file.endpoint}.", param="endpoint"
        )
    models: dict[str, str] = orjson.loads(file.models)
    publics = list(dict.fromkeys(models.values()))
    auth = state.auth
    if auth is not None and auth.active:
        await accounting.admit(auth, principal, publics)
    owner, _ = owner_of(principal)
    cap = state.runtime.config.storage.batches_per_key
    async with svc.making.slot(
        owner,
        "batch",
        cap,
        lambda: svc.store.count(owner, "batch"),
        f"This API key holds {cap} batches, the most it may.",
    ):
        holder = svc.upstreams.find(file.provider, file.key_id, FILE_GONE.format(file.id))
        call.model = publics[0]
        call.deployment = f"{file.provider}/{next(iter(models))}"
        call.attempts = 1
        forwarded = orjson.dumps(data)
        reply = await svc.upstreams.send(holder, "POST", "/batches", forwarded, call, False)
        if not 200 <= reply.status < 300:
            return reply
        obj = _batch(reply.body)
        record = ObjectRecord(
            obj["id"],
            "batch",
            owner if file.owner == owner else file.owner,  # the master key's batch: the file's
            file.provider,
            file.key_id,
            file.models,
            file.endpoint,
            time.time(),
            orjson.dumps(obj),
        )
        if await svc.store.get(record.id, ALL, None) is not None:
            raise UpstreamInvalid("The upstream answered with an id the gateway already holds.")
        await svc.store.put(record)
        reply.body = await _seen(svc, record, holder, reply.body, call)
        return reply


def _batch(body: bytes, expected: str | None = None) -> dict[str, Any]:
    obj = checked(body, "batch", expected)
    for name in OUTPUTS:
        value = obj.get(name)
        if value is not None and (not isinstance(value, str) or ID.fullmatch(value) is None):
            raise UpstreamInvalid("The upstream answered with no valid batch.")
    return obj


async def _seen(
    svc: OpenAIBatchService, record: ObjectRecord, holder: Holder, body: bytes, call: Call
) -> bytes:
    """A batch object from its holder: recorded, and its output files recorded as the
    batch owner's (each described once, to list it; an id the gateway holds already is
    never taken over)."""
    obj = _batch(body, record.id)
    for name in OUTPUTS:
        file_id = obj.get(name)
        if file_id is None or await svc.store.get(file_id, ALL, None) is not None:
            continue
        found = await _output_file(svc, holder, file_id, call)
        output = ObjectRecord(
            file_id,
            "output",
            record.owner,
            record.provider,
            record.key_id,
            record.models,
            "",
            time.time(),
            found,
        )
        await svc.store.put(output)
    out = orjson.dumps(obj)
    await svc.store.update(record.id, out, None)
    return out


async def _output_file(svc: OpenAIBatchService, holder: Holder, file_id: str, call: Call) -> bytes:
    """An output file's object as its holder has it; if asking fails, the little the batch
    tells (the file is still recorded, so the owner can read it; retrieving it refreshes it)."""
    try:
        reply = await svc.upstreams.send(holder, "GET", f"/files/{file_id}", b"", call, False)
        if 200 <= reply.status < 300:
            return orjson.dumps(checked(reply.body, "file", file_id))
    except GatewayError as exc:
        log.warning("output file not described", file=file_id, error=repr(exc)[:200])
    now = int(time.time())
    return orjson.dumps(
        {"id": file_id, "object": "file", "bytes": 0, "created_at": now,
         "filename": f"{file_id}.jsonl", "purpose": "batch_output", "status": "processed"}
    )  # fmt: skip


async def _list(svc: OpenAIBatchService, call: Call, principal: Principal | None) -> Reply:
    query = query_of(call)
    limit = limit_of(query, 100, 20)
    after = None
    if (cursor := query.get("after")) is not None:
        after = await svc.record(cursor, ("batch",), principal, GONE)
    _, lookup = owner_of(principal)
    page = await svc.store.page(lookup, ("batch",), after, limit + 1)
    more, page = len(page) > limit, page[:limit]
    gate = asyncio.Semaphore(REFRESH_AT_ONCE)
    fresh = await asyncio.gather(*(_fresh(svc, r, call, gate) for r in page))
    return listing(page, fresh, more)


async def _fresh(
    svc: OpenAIBatchService, record: ObjectRecord, call: Call, gate: asyncio.Semaphore
) -> bytes:
    """The batch as its holder has it now (one that had ended as last seen: it no longer
    changes); as last seen if asking fails."""
    try:
        status = orjson.loads(record.object).get("status")
    except orjson.JSONDecodeError:
        status = None
    if isinstance(status, str) and status in FINAL:  # the upstream's: a list is unhashable
        return record.object
    try:
        holder = svc.upstreams.find(record.provider, record.key_id, GONE.format(record.id))
        async with gate:
            reply = await svc.upstreams.send(
                holder, "GET", f"/batches/{record.id}", b"", call, False
            )
            if reply.status == 200:
                return await _seen(svc, record, holder, reply.body, call)
    except Exception as exc:  # one unreachable holder must not fail the listing
        log.warning("batch not refreshed", batch=record.id, error=repr(exc)[:200])
    return record.object
