"""What an upstream MCP server offers, as the gateway keeps it: its lists, fetched whole (every
page) and kept as wire dicts, and which of them changed between two fetches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
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
        page = await fetch(params=params)
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


def _snake(attr: str) -> str:
    return "resource_templates" if attr == "resourceTemplates" else attr
