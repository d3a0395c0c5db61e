"""``POST /v1/feedback``: an application says how good an answer was.

::

    {"request_id": "<the x-request-id of the answer>", "score": 0.8}
    {"request_id": "<...>", "thumbs": "up"}          # or "down"; up = 1.0, down = 0.0
    optional: "comment": "<up to 1000 characters, kept with the label>"

The request id is the ``x-request-id`` response header of the answer (the client's own, if it
sent one). The label is stored in the request log's database (``route_labels``), where
``turnout router export`` joins it with the request's deployment, cost and captured prompt.
Under the same authentication as ``/v1`` (any valid gateway key while authentication is on);
answers ``200`` with the stored label, ``400`` in OpenAI's error shape for a malformed body,
``404`` when the gateway runs without a database, ``503`` when the database refused the write.

Imports nothing of the training side: it is part of every gateway.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import orjson

from turnout.api.endpoint import parse_json
from turnout.api.io import JSON, ClientDisconnected, read_body, request_id, send_bytes, send_error
from turnout.auth.guard import PRINCIPAL
from turnout.errors import BadRequest, GatewayError, NotFound, StorageUnavailable
from turnout.router.labels import (
    FEEDBACK,
    MAX_DETAIL,
    Label,
    LabelStore,
    MemoryLabelStore,
    SqlLabelStore,
    feedback_source,
    now,
)
from turnout.types import Receive, Scope, Send

if TYPE_CHECKING:
    from turnout.state import GatewayState

MAX_BODY = 64 * 1024
THUMBS = {"up": 1.0, "down": 0.0}


def parse_feedback(data: dict[str, Any], key_id: str | None = None) -> Label:
    rid = data.get("request_id")
    if not isinstance(rid, str) or not 0 < len(rid) <= 200:
        raise BadRequest(
            "'request_id' must be the answer's x-request-id (1-200 characters)", param="request_id"
        )
    score, thumbs = data.get("score"), data.get("thumbs")
    if (score is None) == (thumbs is None):
        raise BadRequest(
            "give exactly one of 'score' (0 to 1) and 'thumbs' ('up' or 'down')", param="score"
        )
    if thumbs is not None:
        if not isinstance(thumbs, str) or thumbs.lower() not in THUMBS:
            raise BadRequest("'thumbs' must be 'up' or 'down'", param="thumbs")
        value = THUMBS[thumbs.lower()]
    else:
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise BadRequest("'score' must be a number from 0 to 1", param="score")
        value = float(score)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise BadRequest("'score' must be a number from 0 to 1", param="score")
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise BadRequest("'comment' must be a string", param="comment")
    source = feedback_source(key_id)
    return Label(rid, source, value, now(), comment[:MAX_DETAIL] if comment else None)


class Feedback:
    """The route; its label store is made on first use, from the gateway's storage."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self._store: LabelStore | None = None

    def store(self) -> LabelStore | None:
        if self._store is None:
            obs = self.state.observability
            storage = obs.storage if obs is not None else None
            if storage is None:
                return None
            engine = storage.engine
            self._store = SqlLabelStore(engine) if engine is not None else MemoryLabelStore()
        return self._store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        rid = request_id(headers)
        try:
            principal = scope.get(PRINCIPAL)  # the caller's key (guard_client_route)
            key_id = principal.id if principal is not None else None
            body = parse_json(await read_body(receive, headers, MAX_BODY))
            label = parse_feedback(body, key_id)
            store = self.store()
            if store is None:
                raise NotFound("feedback needs the request log's database (storage.enabled)")
            try:
                await store.put([label])
            except Exception as exc:
                raise StorageUnavailable(
                    f"the feedback could not be stored ({type(exc).__name__}); retry later"
                ) from None
        except GatewayError as exc:
            await send_error(send, exc, "openai", rid)
            return
        except ClientDisconnected:
            return
        body = {
            "object": "feedback",
            "request_id": label.request_id,
            "score": label.score,
            "source": FEEDBACK,
        }
        await send_bytes(send, 200, [JSON, (b"x-request-id", rid.encode())], orjson.dumps(body))
