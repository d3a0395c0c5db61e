"""``GET`` and ``DELETE /v1/responses/{id}`` for the responses the gateway keeps.

Only answers a translated upstream gave are held whole; an id the caller's key does not own,
an expired one or an OpenAI upstream's is a 404 in the Responses error shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from turnout.api.io import JSON, request_id, send_bytes, send_error
from turnout.errors import GatewayError, NotFound
from turnout.types import Scope, Send

if TYPE_CHECKING:
    from turnout.conversations.step import Conversations
    from turnout.state import GatewayState

PREFIX = "/v1/responses/"


def claims(scope: Scope) -> bool:
    path: str = scope["path"]
    if scope["method"] not in ("GET", "DELETE") or not path.startswith(PREFIX):
        return False
    rid = path[len(PREFIX) :]
    return bool(rid) and "/" not in rid


async def serve(
    state: GatewayState, conversations: Conversations, scope: Scope, send: Send
) -> None:
    headers = dict(scope["headers"])
    rid = request_id(headers)
    response_id = scope["path"][len(PREFIX) :][:200]
    owner = ""
    auth = state.auth
    if auth is not None and auth.active:
        try:
            owner = auth.step.identify(headers, b"").id
        except GatewayError as exc:
            await send_error(send, exc, "responses", rid)
            return
    store = conversations.store
    record = await store.get(response_id, owner)
    if record is None or record.response is None:
        missing = NotFound(f"No response found with id '{response_id}'.")
        await send_error(send, missing, "responses", rid)
        return
    if scope["method"] == "GET":
        await send_bytes(send, 200, [JSON, (b"x-request-id", rid.encode())], record.response)
        return
    await store.delete(response_id, owner)
    body = orjson.dumps({"id": response_id, "object": "response.deleted", "deleted": True})
    await send_bytes(send, 200, [JSON, (b"x-request-id", rid.encode())], body)
