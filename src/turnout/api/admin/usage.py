"""``GET /admin/usage``: requests, tokens, cost, error rate and latency percentiles, grouped.

``group_by`` is one of model, provider, deployment, key (gateway key), team, provider_key,
status, day; ``from`` and ``to`` take ISO 8601 times or durations back from now (``24h``,
``7d``); the default is the last 24 hours. ``turnout usage`` prints the same report.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from turnout.state import GatewayState
from turnout.storage.ports import LogStore
from turnout.storage.query import window
from turnout.storage.report import BadQuery, usage_report


def log_store(state: GatewayState) -> LogStore:
    obs = state.observability
    if obs is None or obs.storage is None:
        raise HTTPException(503, "storage is disabled (storage.enabled: false)")
    return obs.storage.logs


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["usage"])

    @api.get("/usage")
    async def usage(
        group_by: str = Query("model", description="model|provider|deployment|key|team|day|..."),
        start: str | None = Query(None, alias="from", description="ISO time or duration (24h)"),
        end: str | None = Query(None, alias="to", description="ISO time or duration; default now"),
        model: str | None = Query(None, description="only this public model"),
    ) -> dict[str, Any]:
        store = log_store(state)
        try:
            begin, stop = window(start, end)
            return await usage_report(store, group_by, begin, stop, model)
        except (BadQuery, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        except Exception as exc:
            raise HTTPException(503, f"the database is unavailable: {type(exc).__name__}") from None

    return api
