"""``/v1/responses/{id}``: retrieve, delete, ``input_items`` and ``cancel``.

A response a translated upstream answered is kept whole by the gateway (the conversation
store) and served from there. One an OpenAI deployment answered lives at that account: the
request goes to the same deployment with the same key (:mod:`turnout.conversations.holder`).
Either way the record belongs to the caller's gateway key: another key, an expired or
unknown id gets a 404 in the Responses error shape, and never reaches an upstream.

A kept response was not run in the background (translated upstreams refuse ``background``),
so cancelling it is a 400, as OpenAI answers for a foreground response. Retrieving a response
as a stream (``?stream=true``) is not relayed.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

import orjson

from turnout.api.io import JSON, request_id, send_bytes, send_error
from turnout.conversations import items
from turnout.conversations.holder import forward
from turnout.errors import BadRequest, GatewayError, NotFound, as_gateway_error
from turnout.names import check_model_name
from turnout.observability.logging import get_logger
from turnout.types import Call, Reply, Scope, Send

if TYPE_CHECKING:
    from turnout.conversations.step import Conversations
    from turnout.conversations.store import Record
    from turnout.state import GatewayState

PREFIXES = ("/v1/responses/", "/responses/")
# (method, what follows the id) -> the action
_ACTIONS = {
    ("GET", ""): "retrieve",
    ("DELETE", ""): "delete",
    ("GET", "/input_items"): "input_items",
    ("POST", "/cancel"): "cancel",
}
_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
log = get_logger("turnout")


def _parse(scope: Scope) -> tuple[str, str] | None:
    """The response id and the action a request names; None for a path this does not serve."""
    path: str = scope["path"]
    for prefix in PREFIXES:
        if path.startswith(prefix):
            rid, slash, rest = path[len(prefix) :].partition("/")
            action = _ACTIONS.get((scope["method"], slash + rest))
            return (rid, action) if rid and action is not None else None
    return None


def claims(scope: Scope) -> bool:
    return _parse(scope) is not None


async def serve(
    state: GatewayState, conversations: Conversations, scope: Scope, send: Send
) -> None:
    started = time.perf_counter()
    headers = dict(scope["headers"])
    rid = request_id(headers)
    parsed = _parse(scope)
    assert parsed is not None
    response_id, action = parsed
    # One request-log row like every call (operation ``responses.<action>``), under the key
    # that made it.
    call = Call("responses", f"responses.{action}", "", b"", {}, False, headers, rid, started)
    call.path = scope["path"]
    state.request_log.inflight += 1
    try:
        owner = ""
        auth = state.auth
        if auth is not None and auth.active:
            principal = await auth.identify(headers, b"")
            owner = call.key_id = principal.id
            call.team = principal.team
        reply = await _answer(conversations, response_id, action, owner, scope, call)
        call.status = reply.status
        await send_bytes(
            send, reply.status, [*reply.headers, (b"x-request-id", rid.encode())], reply.body
        )
    except Exception as exc:  # the last boundary, as for every model route (api/endpoint.py)
        if not isinstance(exc, GatewayError):
            log.exception("request failed", request_id=rid)
        err = as_gateway_error(exc)
        call.status, call.error = err.status, type(err).__name__
        await send_error(send, err, "responses", rid)
    finally:
        state.request_log.record(call, time.perf_counter() - started)


async def _answer(
    conversations: Conversations,
    response_id: str,
    action: str,
    owner: str,
    scope: Scope,
    call: Call,
) -> Reply:
    if _ID.fullmatch(response_id) is None:
        raise NotFound("No response found with that id.")
    query: bytes = scope.get("query_string", b"")
    store = conversations.store
    record = await store.get(response_id, owner)
    if record is None:
        raise NotFound(f"No response found with id '{response_id}'.")
    if record.response is not None:
        call.model = _model_of(record.response)
        return await _kept(conversations, record, action, query)
    if record.deployment is None or record.key_id is None or conversations.holders is None:
        raise NotFound(f"No response found with id '{response_id}'.")
    call.deployment = record.deployment
    provider, secret = conversations.holders.find(record)
    path = f"/responses/{response_id}"
    if action == "input_items":
        path += "/input_items?" + items.forwarded_query(query)
    elif action == "cancel":
        path += "/cancel"
    elif action == "retrieve":
        path += _retrieve_query(query)
    method = {"retrieve": "GET", "delete": "DELETE", "input_items": "GET", "cancel": "POST"}
    reply = await forward(
        provider, secret, method[action], path, call.request_id, dict(scope["headers"])
    )
    if action == "delete" and 200 <= reply.status < 300:
        await store.delete(response_id, owner)
    return reply


async def _kept(conversations: Conversations, record: Record, action: str, query: bytes) -> Reply:
    assert record.response is not None
    if action == "retrieve":
        _retrieve_query(query)
        return Reply(200, [JSON], record.response)
    if action == "input_items":
        return Reply(200, [JSON], items.page(items.input_items(record), query))
    if action == "cancel":
        raise BadRequest("Only responses created with background=true can be cancelled.")
    await conversations.store.delete(record.id, record.owner)
    body = orjson.dumps({"id": record.id, "object": "response.deleted", "deleted": True})
    return Reply(200, [JSON], body)


def _model_of(response: bytes) -> str:
    """The public model a kept response names (the gateway wrote it), for its log row."""
    with contextlib.suppress(orjson.JSONDecodeError, BadRequest):
        data = orjson.loads(response)
        if isinstance(data, dict) and isinstance(data.get("model"), str):
            return check_model_name(data["model"])
    return ""


def _retrieve_query(query: bytes) -> str:
    """The ``include`` of a retrieval, re-encoded for the holder; a streamed retrieval (of a
    background response) is refused rather than read whole."""
    pairs = parse_qsl(query.decode("latin-1")[:4096])
    if any(name == "stream" and value.lower() == "true" for name, value in pairs):
        raise BadRequest(
            "Retrieving a response as a stream is not supported through the gateway; "
            "retrieve it without stream=true.",
            param="stream",
        )
    include = [("include[]", v) for n, v in pairs if n in ("include", "include[]")]
    return "?" + urlencode(include) if include else ""
