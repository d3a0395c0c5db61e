"""What an upstream MCP server offers, as the gateway keeps it: its lists, fetched whole (every
page) and kept as wire dicts, and which of them changed between two fetches."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from turnout.mcp.sizes import json_size
from turnout.observability.logging import get_logger

log = get_logger("turnout.mcp")

_MAX_PAGES = 50  # of one list: a server whose cursor never ends cannot hang a refresh
MAX_ITEMS = 10_000  # items of one list kept; what a server lists past them is left out
_STAMP = "io.modelcontextprotocol/serverInfo"
_LISTS = (  # catalogue list -> the notification announcing its change
    ("tools", types.ToolListChangedNotification),
    ("prompts", types.PromptListChangedNotification),
    ("resources", types.ResourceListChangedNotification),
    ("templates", types.ResourceListChangedNotification),
)


def dump(model: BaseModel) -> dict[str, Any]:
    """A result as it goes on the wire; the upstream's identity stamp is not the gateway's."""
    data: dict[str, Any] = model.model_dump(by_alias=True, mode="json", exclude_none=True)
    meta = data.get("_meta")
    if isinstance(meta, dict) and _STAMP in meta:
        meta.pop(_STAMP)
        if not meta:
            data.pop("_meta")
    return data


@dataclass(slots=True)
class Catalogue:
    """What a server offers, as wire dicts, already narrowed by the server's own filter."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    fetched_at: float = 0.0


def changed(old: Catalogue | None, new: Catalogue) -> set[Any]:
    """The notifications announcing which lists differ (``old`` None: the server came or
    went, so every list it has)."""
    before = old if old is not None else Catalogue()
    return {note for kind, note in _LISTS if getattr(new, kind) != getattr(before, kind)}


async def pages(
    fetch: Callable[..., Awaitable[Any]], attr: str, max_bytes: int, server: str = ""
) -> list[dict[str, Any]]:
    """Every page of one list, up to :data:`MAX_ITEMS` items and ``max_bytes`` bytes of them
    (as compact JSON): what a server lists past that is left out, with a warning. Before
    (2026-12-08) only the pages were counted (50), and a server listing 50,000 tools a page
    took the gateway from 130 MB to 630 MB on every connection attempt, until the list's
    timeout marked it down; one quicker to answer would have been served with 2.5 million."""
    items: list[dict[str, Any]] = []
    size = 0
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        try:
            page = await fetch(params=params)
        except MCPError as exc:
            # A server offering resources without templates (or a list it does not serve)
            # may answer "Method not found": that list is empty. Before (2026-12-07) it
            # failed the whole refresh and the server stayed down, reconnecting forever.
            if exc.code != types.METHOD_NOT_FOUND:
                raise
            log.info("mcp list not served", server=server, list=attr)
            return items
        for item in getattr(page, _snake(attr)):
            wire = dump(item)
            size += json_size(wire)
            if len(items) >= MAX_ITEMS or size > max_bytes:
                log.warning(
                    "mcp list cut short",
                    server=server,
                    list=attr,
                    kept=len(items),
                    limit=f"{MAX_ITEMS} items, {max_bytes} bytes",
                )
                return items
            items.append(wire)
        cursor = page.next_cursor
        if not cursor:
            break
    return items


# The MCP specification's tool names (2025-11-25), applied to prompts too: what every model
# API takes as a function name once the gateway has prefixed it.
_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")
_MAX_URI = 8192
_NAMED = (
    ("tools", "name"),
    ("prompts", "name"),
    ("resources", "uri"),
    ("templates", "uriTemplate"),
)


def lawful(cat: Catalogue, server: str) -> None:
    """Leave out what no caller should be handed: a tool or prompt whose name is not
    ``[A-Za-z0-9._-]{1,128}``, a resource URI or template holding a space or a control
    character (none is a URI), and a second item of one name (the first listed is kept).

    Before (2026-12-07) an upstream's list was served as it came: one server listing a tool
    named ``evil\nname``, ``with space`` or the same name twice put it in every caller's
    ``/mcp`` list, and a model API handed that list refuses the request whole (a function
    name must match a pattern, and be unique), so one server broke every tool of every
    server for every agent; its control characters also reached log lines and metric labels.
    """
    for kind, field_name in _NAMED:
        items: list[dict[str, Any]] = getattr(cat, kind)
        kept: list[dict[str, Any]] = []
        seen: set[str] = set()
        dropped: list[str] = []
        for item in items:
            name = item.get(field_name)
            if (
                not isinstance(name, str)
                or name in seen
                or not (
                    _NAME.fullmatch(name) is not None if field_name == "name" else _uri_ok(name)
                )
            ):
                dropped.append(repr(name)[:80])
                continue
            seen.add(name)
            kept.append(item)
        if dropped:
            log.warning(
                "mcp items left out: invalid or repeated names",
                server=server,
                list=kind,
                count=len(dropped),
                names=dropped[:5],  # repr: escaped, never a control character in a log line
            )
            setattr(cat, kind, kept)


_NOT_IN_URI = re.compile(r"[\x00-\x20\x7f]")


def _uri_ok(uri: str) -> bool:
    return 0 < len(uri) <= _MAX_URI and _NOT_IN_URI.search(uri) is None


def _snake(attr: str) -> str:
    return "resource_templates" if attr == "resourceTemplates" else attr
