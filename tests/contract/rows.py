"""Rows for the contract tests, built field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from turnout.storage.rows import COLUMNS, Row, new_id

BASE = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


def row(seconds: float = 0.0, **fields: Any) -> Row:
    values: dict[str, Any] = dict.fromkeys(COLUMNS)
    values.update(
        ts=BASE + timedelta(seconds=seconds),
        id=new_id(),
        request_id="req",
        protocol="openai",
        operation="chat",
        model="alpha",
        provider="p1",
        deployment="p1/up-alpha",
        key_id="k1",
        attempts=1,
        status=200,
        latency_ms=10.0,
        input_tokens=10,
        output_tokens=5,
        cached_tokens=0,
        reasoning_tokens=0,
        cost=0.001,
        stream=False,
        cache_hit=False,
    )
    values.update(fields)
    return tuple(values[c] for c in COLUMNS)


def dataset() -> list[Row]:
    """40 rows over two days: two models, two providers, errors, unpriced and cached calls."""
    rows = []
    for i in range(40):
        day = 86400 if i >= 30 else 0  # ten rows on the next day
        rows.append(
            row(
                day + i,
                model="alpha" if i % 2 == 0 else "beta",
                provider="p1" if i % 3 else "p2",
                deployment=("p1" if i % 3 else "p2") + "/up",
                key_id=f"k{i % 2}",
                gateway_key="gk-1" if i < 20 else "gk-2",
                team="red" if i % 4 == 0 else None,
                status=500 if i % 10 == 9 else 200,
                error="server_error"
                if i % 10 == 9
                else ("stream:UpstreamGaveUp" if i == 4 else None),
                latency_ms=float(i + 1),
                ttft_ms=float(i) / 2 if i % 5 else None,
                input_tokens=None if i % 10 == 9 else 100 + i,
                output_tokens=None if i % 10 == 9 else 10 + i,
                cached_tokens=None if i % 10 == 9 else i % 3,
                reasoning_tokens=None if i % 10 == 9 else i % 2,
                cost=None if i % 10 in (7, 9) else 0.01 * (i + 1),
                stream=i % 2 == 1,
            )
        )
    return rows
