"""``turnout router export``: training rows from the gateway's own traffic.

Joins, by request id, three things the gateway keeps: the request log (which deployment
answered, cost, latency, tokens), the captured prompt, and the labels (feedback from the
application, scores from a judge). One long row per answered request::

    prompt, deployment, score, cost, latency_ms, request_id, source, ts, model,
    input_tokens, output_tokens, feedback, judge

``score`` is the application's feedback when there is some (the user knows best), else the
mean of the judges' scores, else empty (kept only with ``include_unlabelled``). Only answers
a deployment actually produced count: errors, cache hits and fallbacks to another model are
left out, since they say nothing about that deployment on that prompt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from turnout.router.captures import Captured, iter_captures
from turnout.router.labels import FEEDBACK, Label, SqlLabelStore, feedback_on
from turnout.storage.query import Cursor, LogQuery
from turnout.storage.sql.logs import SqlLogStore


async def request_rows(
    engine: AsyncEngine, model: str, start: datetime, end: datetime
) -> AsyncIterator[list[dict[str, Any]]]:
    """The model's request rows in the range, one page at a time: the caller keeps only the
    few it can use (those with a capture), so a month of a busy model's log is never held
    whole (before: every row of the range was listed first, about 3 KB of memory each)."""
    store = SqlLogStore(engine)
    cursor: Cursor | None = None
    while True:
        page = await store.logs(
            LogQuery(start=start, end=end, filters={"model": model}, limit=1000, cursor=cursor)
        )
        yield page.rows
        if page.next_cursor is None:
            return
        cursor = Cursor.decode(page.next_cursor)


def _answered(row: dict[str, Any]) -> bool:
    """A chat answer a deployment produced (not an error, a cache hit or a fallback's)."""
    status = row.get("status") or 0
    if not 200 <= status < 300 or row.get("cache_hit") or row.get("fallback"):
        return False
    return row.get("operation") == "chat" and bool(row.get("deployment"))


def combine(
    labels: Sequence[Label], key_id: str | None = None
) -> tuple[float | None, str | None, float | None, float | None]:
    """(score, its source, feedback, mean judge score) of one request's labels; feedback counts
    only from the operator or from the key that made the request (``key_id``)."""
    feedback = [x.score for x in labels if feedback_on(x.source, key_id)]
    judged = [x.score for x in labels if x.source.startswith("judge:")]
    fb = feedback[-1] if feedback else None
    judge = sum(judged) / len(judged) if judged else None
    if fb is not None:
        return fb, FEEDBACK, fb, judge
    if judge is not None:
        sources = sorted({x.source for x in labels if x.source.startswith("judge:")})
        return judge, ",".join(sources), fb, judge
    return None, None, None, None


async def export(
    engine: AsyncEngine,
    captures: str | Path,
    models: Sequence[str],
    start: datetime,
    end: datetime,
    include_unlabelled: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The rows, and counts of what was left out and why."""
    # A client may choose its request id, so one id can name calls of several keys: a prompt
    # is joined to the row of the key that sent it (another tenant reusing an id would pair
    # its text with this row's deployment and labels: poisoned training data). A capture
    # written before captures named their key joins by its id alone, as it did.
    texts: dict[tuple[str, str | None], Captured] = {
        (c.request_id, c.key_id): c for c in iter_captures(captures, models)
    }

    def text_of(row: dict[str, Any]) -> Captured | None:
        rid = str(row.get("request_id"))
        return texts.get((rid, row.get("gateway_key"))) or texts.get((rid, None))

    stats = {
        "requests": 0,
        "not_answered": 0,
        "no_capture": 0,
        "unlabelled": 0,
        "both": 0,
        "agree": 0,
    }
    usable = []
    for model in models:
        async for page in request_rows(engine, model, start, end):
            stats["requests"] += len(page)
            for row in page:
                if not _answered(row):
                    stats["not_answered"] += 1
                elif text_of(row) is None:
                    stats["no_capture"] += 1
                else:
                    usable.append(row)
    labels = await SqlLabelStore(engine).get(r["request_id"] for r in usable)
    out = []
    for row in sorted(usable, key=lambda r: r["ts"]):
        rid = row["request_id"]
        captured = text_of(row)
        assert captured is not None  # usable rows have one
        score, source, feedback, judge = combine(labels.get(rid, []), row.get("gateway_key"))
        if feedback is not None and judge is not None:  # how far the judge can be trusted
            stats["both"] += 1
            stats["agree"] += int((feedback >= 0.5) == (judge >= 0.5))
        if score is None:
            stats["unlabelled"] += 1
            if not include_unlabelled:
                continue
        out.append(
            {
                "prompt": captured.prompt,
                "deployment": row["deployment"],
                "score": score,
                "cost": row.get("cost"),
                "latency_ms": row.get("latency_ms"),
                "request_id": rid,
                "source": source,
                "ts": row["ts"].isoformat(),
                "model": row.get("model"),
                "input_tokens": row.get("input_tokens"),
                "output_tokens": row.get("output_tokens"),
                "feedback": feedback,
                "judge": judge,
            }
        )
    stats["rows"] = len(out)
    return out, stats
