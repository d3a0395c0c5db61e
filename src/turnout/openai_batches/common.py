"""What the OpenAI batch routes share: their paths, the id check, owners, listings, and the
check of an object an upstream answers with."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

import orjson

from turnout.auth.principal import MASTER, Principal
from turnout.errors import BadRequest, TooManyHeld, UpstreamInvalid
from turnout.openai_batches.store import ObjectRecord
from turnout.types import Call, Reply, Scope

FILES = "/v1/files"
BATCHES = "/v1/batches"
ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
# The largest object kept (and relayed): every object is stored and listed, 10,000 files or
# 100 batches a page. OpenAI's file objects are well under 1 KB; a batch's carries its
# metadata (16 pairs of at most 64 + 512 characters) and its validation errors.
MOST_BYTES = {"file": 16 * 1024, "batch": 256 * 1024}
_ACTIONS = {
    FILES: {
        ("POST", ""): "upload",
        ("GET", ""): "list",
        ("GET", "/"): "retrieve",
        ("DELETE", "/"): "delete",
        ("GET", "/content"): "content",
    },
    BATCHES: {
        ("POST", ""): "create",
        ("GET", ""): "list",
        ("GET", "/"): "retrieve",
        ("POST", "/cancel"): "cancel",
    },
}


def parse_path(scope: Scope) -> tuple[str, str, str] | None:
    """The collection, the object id ("" for the collection) and the action; None for a path
    not served."""
    path: str = scope["path"]
    for prefix, actions in _ACTIONS.items():
        if path == prefix:
            action = actions.get((scope["method"], ""))
            return None if action is None else (prefix, "", action)
        if path.startswith(prefix + "/"):
            object_id, slash, rest = path[len(prefix) + 1 :].partition("/")
            action = actions.get((scope["method"], "/" + rest if slash else "/"))
            return None if action is None or not object_id else (prefix, object_id, action)
    return None


def owner_of(principal: Principal | None) -> tuple[str, str | None]:
    """The caller's owner id, and the owner a lookup needs (None: everything)."""
    if principal is None:
        return "", ""
    sees_all = principal is MASTER or principal.admin
    return principal.id, None if sees_all else principal.id


def query_of(call: Call) -> dict[str, str]:
    """The listing's parameters; one given empty (``order=``) is kept, to be refused."""
    return dict(parse_qsl(call.query.decode("latin-1")[:4096], keep_blank_values=True))


def limit_of(query: dict[str, str], most: int, default: int) -> int:
    raw = query.get("limit", str(default))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= most:
        raise BadRequest(f"limit: an integer from 1 to {most}.", param="limit")
    return int(raw)


def listing(records: list[ObjectRecord], objects: Iterable[bytes], more: bool) -> Reply:
    body = orjson.dumps(
        {
            "object": "list",
            "data": [orjson.Fragment(b) for b in objects],
            "first_id": records[0].id if records else None,
            "last_id": records[-1].id if records else None,
            "has_more": more,
        }
    )
    return Reply(200, [(b"content-type", b"application/json")], body)


def checked(body: bytes, kind: str, expected: str | None = None) -> dict[str, Any]:
    """A file or batch object from the holder. An answer that is no such object, names an id
    that cannot be a path segment or another object than asked, or is too large to keep
    (:data:`MOST_BYTES`), is the upstream's fault."""
    if len(body) > MOST_BYTES[kind]:
        raise UpstreamInvalid(f"The upstream answered with a {kind} too large to keep.")
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        obj = None
    object_id = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(object_id, str) or ID.fullmatch(object_id) is None:
        raise UpstreamInvalid(f"The upstream answered with no valid {kind}.")
    if expected is not None and object_id != expected:
        raise UpstreamInvalid(f"The upstream answered with another {kind}.")
    assert isinstance(obj, dict)
    return obj


class Making:
    """The uploads and batch creations in flight on this replica, per owner and kind: the
    per-key cap counts them with those recorded, so requests at once cannot all pass a check
    made before each is sent upstream and recorded after."""

    def __init__(self) -> None:
        self._n: dict[tuple[str, str], int] = {}

    @asynccontextmanager
    async def slot(
        self, owner: str, kind: str, cap: int, held: Callable[[], Awaitable[int]], refusal: str
    ) -> AsyncIterator[None]:
        slot = owner, kind
        # Taken before the stored ones are counted, and the others in flight noted then: one
        # recorded while the count runs is counted at least once (a slot is given back only
        # once its record is stored), never not at all.
        others = self._n.get(slot, 0)
        self._n[slot] = others + 1
        try:
            if await held() + others >= cap:
                raise TooManyHeld(refusal)
            yield
        finally:
            left = self._n[slot] - 1
            if left:
                self._n[slot] = left
            else:
                del self._n[slot]
