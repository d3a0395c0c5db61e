"""Input items that name an item an OpenAI account stores, and who may name them.

Every gateway key shares the provider account, so an item the account resolves by its id
(an ``item_reference``, or a ``reasoning`` item sent back without its ``encrypted_content``)
would hand one tenant's stored message or reasoning to any key that learnt its id. With
gateway keys, the conversation step records the ids of the output items of every response
an OpenAI deployment answers, pinned like the response to the key that made it, and a request
may name only ids its own key holds (:func:`references`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from turnout.conversations.hits import frame_event
from turnout.errors import BadRequest

# Ids named by one request: each is a look-up in the conversation store.
MAX_REFERENCES = 256
# Output item ids recorded per response: a response with more items is rare; the rest cannot
# be named by id (the whole item can still be sent back).
MAX_RECORDED = 128
_DONE = b"response.output_item.done"


def referenced(item: Any, where: str) -> str | None:
    """The stored item an input item makes the account look up, if any."""
    if not isinstance(item, dict):
        return None
    kind = item.get("type")
    if kind == "item_reference":
        ref = item.get("id")
        if not isinstance(ref, str) or not ref:
            raise BadRequest(f"'{where}.id' must be a non-empty string", param=f"{where}.id")
        return ref
    if kind == "reasoning" and item.get("encrypted_content") is None:
        ref = item.get("id")
        return ref if isinstance(ref, str) and ref else None
    return None


def references(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(id, parameter) of every stored item the request names, bounded."""
    items = data.get("input")
    if not isinstance(items, list):
        return
    count = 0
    for i, item in enumerate(items):
        where = f"input[{i}]"
        ref = referenced(item, where)
        if ref is None:
            continue
        count += 1
        if count > MAX_REFERENCES:
            raise BadRequest(
                f"At most {MAX_REFERENCES} input items may name a stored item by id",
                param="input",
            )
        yield ref, f"{where}.id"


def not_found(ref: str, param: str) -> BadRequest:
    """OpenAI's words for an item id its account does not hold (nor the caller's key here)."""
    return BadRequest(f"Item with id '{ref[:100]}' not found.", param=param)


def output_ids(response: Any) -> list[str]:
    """The ids of a response object's output items (at most :data:`MAX_RECORDED`)."""
    output = response.get("output") if isinstance(response, dict) else None
    if not isinstance(output, list):
        return []
    ids = [item.get("id") for item in output[:MAX_RECORDED] if isinstance(item, dict)]
    return [i for i in ids if isinstance(i, str) and 0 < len(i) <= 200]


def done_item_id(frame: bytes) -> str | None:
    """The item id of a ``response.output_item.done`` SSE frame (None for other frames)."""
    if frame.find(_DONE, 0, 200) < 0:
        return None
    event = frame_event(frame)
    if event is None or event.get("type") != "response.output_item.done":
        return None
    item = event.get("item")
    ref = item.get("id") if isinstance(item, dict) else None
    return ref if isinstance(ref, str) and 0 < len(ref) <= 200 else None
