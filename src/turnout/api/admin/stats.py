"""``GET /admin/stats/overview`` and ``GET /admin/stats/series``: what the dashboard charts.

Both read only the rollup tables (:mod:`turnout.storage.stats`), so each answers in
milliseconds over a request log of millions of rows. Sums are exact; percentiles are
estimated from histograms (within 9%; ``/admin/usage`` has the exact ones).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from turnout.api.admin.usage import log_store
from turnout.state import GatewayState
from turnout.storage.query import window
from turnout.storage.stats import SERIES_GROUPS, BadRange, overview, plan, series_report

_WINDOWS = {"15m": 900, "1h": 3600, "6h": 6 * 3600}


class Totals(BaseModel):
    requests: int
    errors: int
    error_rate: float
    streams: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_usd: float | None = Field(description="null when nothing in the group had a price")
    unpriced_requests: int
    latency_ms_avg: float | None
    ttft_ms_avg: float | None


class Current(Totals):
    seconds: int = Field(description="the length of the 'current' window (about 5 minutes)")
    rps: float
    tokens_per_s: float = Field(description="output tokens per second")
    latency_p50: float | None
    latency_p95: float | None
    ttft_p50: float | None
    ttft_p95: float | None


class Spend(BaseModel):
    cost_usd: float | None
    requests: int
    unpriced_requests: int


class OverviewSpend(BaseModel):
    today: Spend = Field(description="since midnight UTC")
    month: Spend = Field(description="since the first of the month, UTC")


class Overview(BaseModel):
    now: str
    window: int = Field(description="seconds covered by the series")
    step: int
    buckets: list[int] = Field(description="start of each minute, epoch seconds")
    series: dict[str, list[int | float | None]] = Field(
        description="requests, errors, rps, error_rate, tokens_per_s, latency_p50, "
        "latency_p95, ttft_p50, ttft_p95: one value per bucket"
    )
    current: Current = Field(description="the last five minutes")
    spend: OverviewSpend


class Group(BaseModel):
    group: str | None = Field(description="null: requests without that attribute")
    series: dict[str, list[int | float]] = Field(
        description="requests, errors, input/output/cached/reasoning_tokens, cost per bucket"
    )
    total: Totals


class Series(BaseModel):
    group_by: str
    from_: str = Field(alias="from")
    to: str
    step: int
    source: str = Field(description="the rollup table that answered")
    buckets: list[int]
    groups: list[Group]
    total: Totals


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin/stats", tags=["stats"])

    @api.get("/overview", response_model=Overview, summary="The dashboard's overview")
    async def get_overview(
        window_: str = Query("1h", alias="window", description=", ".join(_WINDOWS)),
    ) -> dict[str, Any]:
        """Per-minute request rate, error rate, p50/p95 latency and time to first token and
        output tokens per second over the window; the same for the last five minutes; spend
        today and this month."""
        if window_ not in _WINDOWS:
            raise HTTPException(400, f"window must be one of {', '.join(_WINDOWS)}")
        store = log_store(state)
        try:
            return await overview(store, datetime.now(UTC), _WINDOWS[window_])
        except Exception as exc:
            raise HTTPException(503, f"the database is unavailable: {type(exc).__name__}") from None

    @api.get("/series", response_model=Series, summary="Usage and cost over time, grouped")
    async def get_series(
        group_by: str = Query("model", description="|".join(SERIES_GROUPS)),
        start: str | None = Query(None, alias="from", description="ISO time or duration (24h)"),
        end: str | None = Query(None, alias="to", description="ISO time or duration; default now"),
        step: int | None = Query(None, description="seconds per bucket; default: ~200 points"),
        limit: int = Query(20, ge=1, le=50, description="groups; the rest are '(other)'"),
        model: str | None = Query(None, description="only this public model (route groups)"),
    ) -> dict[str, Any]:
        """Requests, errors, tokens and cost per bucket for each group, with totals. Ranges
        are widened to whole steps; up to six hours by model, provider or deployment are read
        per minute, longer ranges and keys or teams per hour."""
        store = log_store(state)
        try:
            begin, stop = window(start, end)
            query = plan(group_by, begin, stop, step, model=model)
        except (BadRange, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        try:
            report = await series_report(store, query, limit)
        except Exception as exc:
            raise HTTPException(503, f"the database is unavailable: {type(exc).__name__}") from None
        return {"group_by": group_by, **report}

    return api
