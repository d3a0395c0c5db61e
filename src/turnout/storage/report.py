"""The usage report and the log page as JSON-able dicts: one shape for the admin API and the
``turnout usage`` command."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from turnout.storage.ports import LogStore
from turnout.storage.query import GROUPS, LogQuery, UsageQuery


class BadQuery(ValueError):
    """A report request the caller must fix (unknown group, bad time, bad cursor)."""


async def usage_report(
    store: LogStore, group_by: str, start: datetime, end: datetime, model: str | None = None
) -> dict[str, Any]:
    if group_by not in GROUPS:
        raise BadQuery(f"group_by must be one of {', '.join(GROUPS)}; got {group_by!r}")
    groups = await store.usage(UsageQuery(group_by, start, end, model))
    total = await store.usage(UsageQuery("all", start, end, model))
    return {
        "group_by": group_by,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "model": model,
        "groups": [g.as_dict() for g in groups],
        "total": total[0].as_dict() if total else None,
    }


async def logs_page(store: LogStore, query: LogQuery) -> dict[str, Any]:
    page = await store.logs(query)
    rows = []
    for row in page.rows:
        row["ts"] = row["ts"].isoformat()
        rows.append(row)
    return {"rows": rows, "next_cursor": page.next_cursor, "partial": page.partial}
