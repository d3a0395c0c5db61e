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

A key could otherwise write rows without end (any request id is accepted: the request log is
written in the background, so a rating sent right after its answer cannot be checked against
it). So a rating counts against the key's and its team's request limits (``rpm``,
``max_parallel``) as a model request does (429 past them), and each key keeps only its newest
``storage.feedback_per_key`` labels (older ones of that key are dropped: a key can only ever
push out its own). The master key's and an open gateway's feedback (the operator's) are not
bounded.

Imports nothing of the training side: it is part of every gateway.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import orjson

from turnout.api.endpoint import parse_json
from turnout.api.io import JSON, ClientDisconnected, read_body, request_id, send_bytes, send_error
from turnout.auth.guard import PRINCIPAL
from turnout.auth.principal import Principal
from turnout.errors import BadRequest, GatewayError, NotFound, StorageUnavailable
from turnout.limits.plan import Plan, Rule, Ticket
from turnout.limits.step import refusal
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


def plan_for(principal: Principal | None) -> Plan | None:
    """The request limits a rating counts against: the key's and team's own ``rpm`` and
    ``max_parallel`` (a rating has no tokens and no cost). None: nothing to count."""
    if principal is None or principal.id == "master":
        return None
    rules = tuple(
        Rule(r.scope, r.label, r.rpm, None, r.parallel, r.tag)
        for r in principal.rules
        if r.rpm is not None or r.parallel is not None
    )
    return Plan(rules) if rules else None


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

    async def _admit(self, principal: Principal | None) -> Ticket | None:
        """Count the rating against its key's limits, or raise the usual 429."""
        auth = self.state.auth
        plan = plan_for(principal)
        if plan is None or auth is None:
            return None
        ticket = Ticket(plan)
        verdict = await auth.limiter.admit(ticket)  # off the model path: the plain call
        if not verdict.ok:
            raise refusal(verdict)
        return ticket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        rid = request_id(headers)
        ticket: Ticket | None = None
        try:
            principal = scope.get(PRINCIPAL)  # the caller's key (guard_client_route)
            key_id = principal.id if principal is not None else None
            ticket = await self._admit(principal)
            body = parse_json(await read_body(receive, headers, MAX_BODY))
            label = parse_feedback(body, key_id)
            store = self.store()
            if store is None:
                raise NotFound("feedback needs the request log's database (storage.enabled)")
            try:
                await store.put([label])
                if label.source != FEEDBACK:  # a key's: kept to its newest labels
                    keep = self.state.runtime.config.storage.feedback_per_key
                    await store.trim(label.source, keep)
            except Exception as exc:
                raise StorageUnavailable(
                    f"the feedback could not be stored ({type(exc).__name__}); retry later"
                ) from None
        except GatewayError as exc:
            await send_error(send, exc, "openai", rid)
            return
        except ClientDisconnected:
            return
        finally:
            if ticket is not None and self.state.auth is not None:
                self.state.auth.limiter.finish(ticket)
        body = {
            "object": "feedback",
            "request_id": label.request_id,
            "score": label.score,
            "source": FEEDBACK,
        }
        await send_bytes(send, 200, [JSON, (b"x-request-id", rid.encode())], orjson.dumps(body))
