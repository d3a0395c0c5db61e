"""``GET /admin/logs``: the request log, newest first, filtered and paged by cursor.

Paging by ``(ts, id)`` rather than by offset keeps every page as cheap as the first however
deep a client pages; ``next_cursor`` is null on the last page. A filter no index serves (error,
protocol, stream, ``errors=true``, ...) examines at most ``SCAN`` rows per page: a page may
then come back short with ``partial: true`` and a cursor to go on from, so no page costs more
than a bounded read however rare the match.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from turnout.api.admin.usage import log_store
from turnout.state import GatewayState
from turnout.storage.query import MAX_PAGE, Cursor, LogQuery, parse_time
from turnout.storage.report import logs_page

SCAN = 10_000  # rows one page may examine when its filters are not served by an index


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["usage"])

    @api.get("/logs")
    async def logs(
        model: str | None = Query(None),
        provider: str | None = Query(None),
        status: int | None = Query(None, ge=100, le=599, description="HTTP status code"),
        key: str | None = Query(None, description="gateway key id"),
        provider_key: str | None = Query(None, description="provider key fingerprint"),
        team: str | None = Query(None),
        request_id: str | None = Query(None),
        deployment: str | None = Query(None, description="provider/upstream-model"),
        error: str | None = Query(None, description="error reason (server_error, timeout, ...)"),
        protocol: str | None = Query(None, description="openai, anthropic or gemini"),
        operation: str | None = Query(None, description="chat, embeddings, ..."),
        stream: bool | None = Query(None),
        cache_hit: bool | None = Query(None),
        task_id: str | None = Query(None, description="an A2A agent's task"),
        errors: bool = Query(False, description="only failed requests (status >= 400 or error)"),
        start: str | None = Query(None, alias="from", description="ISO time or duration (1h)"),
        end: str | None = Query(None, alias="to", description="ISO time or duration"),
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
    ) -> dict[str, Any]:
        store = log_store(state)
        filters = {
            name: value
            for name, value in (
                ("model", model),
                ("provider", provider),
                ("status", status),
                ("gateway_key", key),
                ("key_id", provider_key),
                ("team", team),
                ("request_id", request_id),
                ("deployment", deployment),
                ("error", error),
                ("protocol", protocol),
                ("operation", operation),
                ("stream", stream),
                ("cache_hit", cache_hit),
                ("task_id", task_id),
            )
            if value is not None
        }
        try:
            now = datetime.now(UTC)
            query = LogQuery(
                start=parse_time(start, now) if start else None,
                end=parse_time(end, now) if end else None,
                filters=filters,
                limit=limit,
                cursor=Cursor.decode(cursor) if cursor else None,
                errors_only=errors,
                scan=SCAN,
            )
        except ValueError as exc:
            raise HTTPException(400, f"bad from/to/cursor: {exc}") from None
        try:
            return await logs_page(store, query)
        except Exception as exc:
            raise HTTPException(503, f"the database is unavailable: {type(exc).__name__}") from None

    return api
