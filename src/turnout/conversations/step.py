"""The conversation step: ``previous_response_id`` for upstreams that cannot hold it.

Before the router, a Responses call continuing a response the gateway holds items for gets
those items (the earlier turns' input and output) in front of its own input, and loses the
id, so every upstream (translated or not) sees the whole conversation. After it, the items of
a response a translated upstream answered are kept under its id for the caller's key. Nothing
is kept for ``store: false``, for answers past the size cap, or for failed answers. Counting a
turn's tokens (``input_tokens``) is expanded the same way, and keeps nothing.

With gateway keys, an id the caller's key holds nothing for is refused here (OpenAI's 400),
whatever the model's upstream: an OpenAI account shared by every key would otherwise continue
another tenant's response for anyone who learnt its id.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from turnout.conversations.background import BackgroundUsage
from turnout.conversations.hits import (
    first_id,
    frame_event,
    renamed_body,
    renamed_stream,
    response_id,
)
from turnout.conversations.items import identified
from turnout.conversations.references import done_item_id, not_found, output_ids, references
from turnout.conversations.store import ConversationStore, Record
from turnout.errors import BadRequest, PreviousResponseNotFound
from turnout.protocols.responses.ends import Ended
from turnout.types import Call, Handler, Reply

if TYPE_CHECKING:
    from turnout.conversations.holder import Holders
    from turnout.observability.logging import RequestLog

_COMPLETED = b'"response.completed"'
# What a translated answer says before the gateway puts the request's id back (the encoder
# cannot know it: the step took it out of the request). Compact JSON cannot hold these bytes
# inside a string (its quotes would be escaped), so only the field itself matches.
_NO_PREVIOUS = b'"previous_response_id":null'
_NOT_STORED, _STORED = b'"store":false', b'"store":true'  # kept unless the request said no
# The operations that may name an earlier response: a turn, and counting a turn's tokens.
_CONTINUING = ("responses", "input_tokens")


def as_items(value: Any) -> list[Any]:
    """A request's ``input`` as a list of items (a bare string is one user message)."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


def owner_of(call: Call) -> str:
    """Stored state belongs to the caller's gateway key; another key cannot see it."""
    return call.key_id or ""


class Conversations:
    def __init__(self, store: ConversationStore, ttl: float, max_bytes: int) -> None:
        self.store = store
        self.ttl = ttl
        self.max_bytes = max_bytes
        # Where OpenAI-held responses are reached (set by the app: its providers and keys).
        self.holders: Holders | None = None
        # Learns the usage of background responses for their request-log rows (set by the app).
        self.background: BackgroundUsage | None = None

    def reach(self, holders: Holders, request_log: RequestLog, limiter: Any = None) -> None:
        """Where OpenAI-held responses are, and the request log whose rows of background
        responses wait for their usage, the limiter whose slots they hold until then
        (turnout.conversations.background)."""
        self.holders = holders
        self.background = request_log.hold = BackgroundUsage(request_log, holders, limiter)

    async def stop(self) -> None:
        """Write what the store still holds back (the database's write-behind), and the rows
        of background responses still running."""
        if self.background is not None:
            await self.background.stop()
        stop = getattr(self.store, "stop", None)
        if stop is not None:
            await stop()

    async def step(self, call: Call, next: Handler) -> Reply:
        if call.protocol != "responses" or call.operation not in _CONTINUING:
            return await next(call)
        previous = await self._expand(call)
        if call.operation != "responses":  # counted, not answered: nothing to keep
            return await next(call)
        reply = await next(call)
        if reply.status != 200:
            return reply
        # A cached answer replayed to this caller: the gateway keeps it like one it wrote, under
        # an id of its own (the first caller's id is that caller's; nobody holds this one).
        kept = call.translated or call.cache == "hit"
        if reply.chunks is not None and not call.translated:
            reply.chunks = Ended(reply.chunks)  # an OpenAI stream must end with its end event
        if kept:  # the request's own values, which the encoder cannot know
            edits = [] if call.data.get("store") is False else [(_NOT_STORED, _STORED)]
            if previous is not None:
                edits.append((_NO_PREVIOUS, b'"previous_response_id":' + orjson.dumps(previous)))
            if reply.chunks is None:
                reply.body = _edited(reply.body, edits)
            else:
                reply.chunks = _echo(reply.chunks, edits)
        if call.data.get("store") is False:
            return reply
        if call.cache == "hit":
            if reply.chunks is None:
                reply.body = renamed_body(reply.body)
            else:
                reply.chunks = renamed_stream(reply.chunks)
        if not kept:  # OpenAI holds the state: remember who answered
            if call.deployment is not None and call.answered_key is not None:
                if reply.chunks is None:
                    response = _response(reply.body)
                    await self._pin(call, response_id(response), output_ids(response))
                    if self.background is not None and call.data.get("background"):
                        self.background.watch(call, response)  # its usage comes later
                else:
                    reply.chunks = self._tap_created(call, reply.chunks)
            return reply
        if reply.chunks is None:
            await self._keep(call, reply.body)
        else:
            reply.chunks = self._tap(call, reply.chunks)
        return reply

    async def _pin(self, call: Call, response_id: str | None, items: list[str]) -> None:
        """Pin a response (and its output items, which a later request may name by id:
        turnout.conversations.references) to the deployment and key that answered."""
        if call.deployment is None or call.answered_key is None:
            return
        if response_id is None and not items:
            return
        expires = time.time() + self.ttl
        owner = owner_of(call)
        for rid in ([response_id] if response_id is not None else []) + items:
            await self.store.put(
                Record(rid, owner, expires, deployment=call.deployment, key_id=call.answered_key)
            )

    async def _tap_created(self, call: Call, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Relay an OpenAI stream untouched; its first event names the response, and each
        ``response.output_item.done`` event an item a later request may name by id (frames
        longer than the size cap end the search)."""
        pending = b""
        first, searching = True, True
        try:
            async for chunk in chunks:
                yield chunk
                if not searching:
                    continue
                pending += chunk
                *frames, pending = pending.split(b"\n\n")
                for frame in frames:
                    if first:
                        first = False
                        await self._pin(call, first_id(frame), [])
                    elif (item := done_item_id(frame)) is not None:
                        await self._pin(call, None, [item])
                if len(pending) > (65536 if first else 2 * self.max_bytes):
                    searching = False
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    async def _expand(self, call: Call) -> str | None:
        """Put the kept items in front of the input; the id they were kept under, if so."""
        if owner_of(call) and call.data.get("conversation") is not None:
            # The gateway serves no Conversations API, so a conversation in its provider
            # account was made outside it: with gateway keys, naming one would let any key
            # that learnt its id read and extend it (as previous_response_id did).
            raise BadRequest(
                "Conversations are not available through this gateway; continue a response "
                "with previous_response_id.",
                param="conversation",
            )
        owner = owner_of(call)
        if owner:
            await self._check_references(call, owner)
        previous = call.data.get("previous_response_id")
        if not isinstance(previous, str) or not previous:
            return None
        record = await self.store.get(previous, owner)
        if record is None:
            if owner:
                # With gateway keys, every tenant's OpenAI-held responses sit in the same
                # provider account: an id this key does not hold (another key's, expired,
                # deleted, never made here) must not reach it, or any key knowing an id
                # continues (reads) that conversation.
                raise PreviousResponseNotFound(
                    f"Previous response with id '{previous[:100]}' not found.",
                    param="previous_response_id",
                )
            return None  # an open gateway: an OpenAI upstream may hold it; translation refuses
        if record.deployment is not None and record.key_id is not None:
            call.pin = (record.deployment, record.key_id)
            return None
        if record.items is None:
            return None
        history = orjson.loads(record.items)
        data = {k: v for k, v in call.data.items() if k != "previous_response_id"}
        data["input"] = [*history, *as_items(call.data.get("input"))]
        call.data = data
        call.body = orjson.dumps(data)
        return previous

    async def _check_references(self, call: Call, owner: str) -> None:
        """With gateway keys, input items may name by id only stored items the caller's key
        holds (the account holding them is every key's: turnout.conversations.references);
        the call then goes where they are, as a continued response does."""
        for ref, param in references(call.data):
            record = await self.store.get(ref, owner)
            if record is None or record.deployment is None or record.key_id is None:
                raise not_found(ref, param)
            if call.pin is None:
                call.pin = (record.deployment, record.key_id)

    async def _keep(self, call: Call, body: bytes) -> None:
        try:
            response = orjson.loads(body)
        except orjson.JSONDecodeError:
            return
        await self._keep_response(call, response, body)

    async def _keep_response(self, call: Call, response: Any, body: bytes) -> None:
        if not isinstance(response, dict) or response.get("status") not in (None, "completed"):
            return
        rid, output = response.get("id"), response.get("output")
        if not isinstance(rid, str) or not isinstance(output, list):
            return
        inputs = as_items(call.data.get("input"))
        items = orjson.dumps([*(identified(rid, i, x) for i, x in enumerate(inputs)), *output])
        if len(items) + len(body) > self.max_bytes:
            return
        await self.store.put(
            Record(rid, owner_of(call), time.time() + self.ttl, items=items, response=body)
        )

    async def _tap(self, call: Call, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Relay the stream untouched, keeping only its ``response.completed`` frame (bounded
        by the size cap: a longer partial frame stops the search)."""
        pending = b""
        completed: bytes | None = None
        searching = True
        try:
            async for chunk in chunks:
                yield chunk
                if not searching:
                    continue
                pending += chunk
                *frames, pending = pending.split(b"\n\n")
                for frame in frames:
                    if _COMPLETED in frame[:200]:
                        completed = frame
                if len(pending) > 2 * self.max_bytes:
                    searching = False
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        if completed is not None and (call.encoded or call.cache == "hit"):
            await self._keep_frame(call, completed)

    async def _keep_frame(self, call: Call, frame: bytes) -> None:
        event = frame_event(frame)
        response = event.get("response") if event is not None else None
        if isinstance(response, dict):
            await self._keep_response(call, response, orjson.dumps(response))


def _edited(data: bytes, edits: list[tuple[bytes, bytes]]) -> bytes:
    for old, new in edits:
        data = data.replace(old, new)
    return data


async def _echo(
    chunks: AsyncIterator[bytes], edits: list[tuple[bytes, bytes]]
) -> AsyncIterator[bytes]:
    """A translated stream's response objects say what the request said (the encoder writes
    whole events per chunk, so a field never straddles two chunks)."""
    try:
        async for chunk in chunks:
            yield _edited(chunk, edits)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def _response(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
