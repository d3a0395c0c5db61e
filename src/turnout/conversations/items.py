"""``GET /v1/responses/{id}/input_items`` for a response the gateway keeps: OpenAI's list.

The items are the ones the upstream was sent for that response: the earlier turns' input and
output the gateway replayed in front of it (``previous_response_id``), then its own input,
every item in the shape the API lists it (a bare string is a user message with ``input_text``
content). Items the client sent without an ``id`` get one derived from the response id and
their position, so the same listing has the same ids and ``after`` pages through it.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from turnout.conversations.store import Record
from turnout.errors import BadRequest

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
}
_MAX_QUERY = 4096


def input_items(record: Record) -> list[dict[str, Any]]:
    """The input items of a kept response, in order, each with an ``id``."""
    items = orjson.loads(record.items) if record.items else []
    response = orjson.loads(record.response) if record.response else {}
    output = response.get("output") if isinstance(response, dict) else None
    kept = len(items) - (len(output) if isinstance(output, list) else 0)
    return [_listed(record.id, i, item) for i, item in enumerate(items[: max(kept, 0)])]


def identified(response_id: str, index: int, item: Any) -> Any:
    """``item`` with an ``id`` (kept with it, so the next turn's listing shows the same one):
    derived from the response that first took it and its position there."""
    if not isinstance(item, dict) or (isinstance(item.get("id"), str) and item["id"]):
        return item
    digest = hashlib.sha256(f"{response_id}/{index}".encode()).hexdigest()[:32]
    return {**item, "id": f"{_PREFIX.get(str(item.get('type', 'message')), 'item')}_{digest}"}


def _listed(response_id: str, index: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        item = {"type": "message", "role": "user", "content": item}
    out = dict(identified(response_id, index, item))
    kind = out.setdefault("type", "message")
    if kind == "message":
        content = out.get("content")
        if isinstance(content, str):
            part = "output_text" if out.get("role") == "assistant" else "input_text"
            text: dict[str, Any] = {"type": part, "text": content}
            if part == "output_text":
                text["annotations"] = []
            out["content"] = [text]
        out.setdefault("status", "completed")
    return out


def page(items: list[dict[str, Any]], query: bytes) -> bytes:
    """One page of ``items`` as the query asks (``after``, ``limit``, ``order``; ``include``
    is accepted: nothing the gateway keeps is left out of an item)."""
    after, limit, order = parse_query(query)
    ordered = items if order == "asc" else items[::-1]
    start = 0
    if after is not None:
        ids = [item["id"] for item in ordered]
        if after not in ids:
            raise BadRequest(
                f"No input item with id '{after[:100]}' in this response.", param="after"
            )
        start = ids.index(after) + 1
    data = ordered[start : start + limit]
    body = {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(ordered),
    }
    return orjson.dumps(body)


def parse_query(query: bytes) -> tuple[str | None, int, str]:
    """``after``, ``limit`` (1..100, 20 unless given) and ``order`` (``desc`` unless given),
    checked as OpenAI checks them (a 400 naming the parameter)."""
    if len(query) > _MAX_QUERY:
        raise BadRequest("The query string is too long.")
    after: str | None = None
    limit, order = DEFAULT_LIMIT, "desc"
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name == "after":
            after = value or None
        elif name == "limit":
            limit = _limit(value)
        elif name == "order":
            if value not in ("asc", "desc"):
                raise BadRequest("Invalid 'order': expected 'asc' or 'desc'.", param="order")
            order = value
    return after, limit, order


def _limit(value: str) -> int:
    """``limit`` as OpenAI reads it: ASCII digits only. The query reaches here percent-decoded,
    so any character may be in it, and ``str.isdigit`` is true of ``²`` and other Unicode
    digits that ``int`` refuses (that was a 500)."""
    digits = value.isascii() and value.isdigit()
    if not digits or not 1 <= int(value) <= MAX_LIMIT:
        raise BadRequest(
            f"Invalid 'limit': expected an integer between 1 and {MAX_LIMIT}.", param="limit"
        )
    return int(value)


def forwarded_query(query: bytes) -> str:
    """The listing parameters, checked and re-encoded, for the OpenAI account that holds the
    response (nothing else of the client's query string reaches the upstream URL)."""
    after, limit, order = parse_query(query)
    pairs: list[tuple[str, str]] = [("limit", str(limit)), ("order", order)]
    if after is not None:
        pairs.append(("after", after))
    for name, value in parse_qsl(query.decode("latin-1")):
        if name in ("include", "include[]"):
            pairs.append(("include[]", value))
    return urlencode(pairs)
