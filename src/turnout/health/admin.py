"""``GET /admin/health``: every deployment's and key's state, for operators and ``status``.

Keys appear masked and by fingerprint, never in full. Times are relative ("retry in N s") so
the report reads the same whichever clock the reader has.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from turnout.health.board import HealthBoard
from turnout.health.breaker import ACTIVE, Breaker
from turnout.health.targets import mask

if TYPE_CHECKING:
    from turnout.routing.router import Router


def _state(target: Breaker, now: float) -> str:
    if target.state != ACTIVE and (target.trial or target.until <= now):
        return "half_open"
    return target.state


def _retry_in(target: Breaker, now: float) -> float | None:
    return round(target.until - now, 3) if target.until > now else None


def health_report(board: HealthBoard, router: Router | None = None) -> dict[str, Any]:
    now = time.monotonic()
    models: dict[str, list[str]] = {}
    for route in board.runtime.routes():
        for spec in route.deployments:
            models.setdefault(spec.id, []).append(route.name)
    deployments = [
        {
            "id": d.id,
            "provider": d.provider,
            "model": d.model,
            "state": _state(d, now),
            "reason": d.reason,
            "retry_in": _retry_in(d, now),
            "ejections": d.ejections,
            "consecutive_failures": d.consecutive,
            "inflight": d.inflight,
            "served": d.served,
            "latency_ms": round(d.latency * 1000, 3),
            "available": d.available(now),
            "limits": {
                "max_concurrent": d.max_concurrent,
                "rpm": d.rpm.limit if d.rpm else None,
                "tpm": d.tpm.limit if d.tpm else None,
            },
            "models": models.get(d.id, []),
        }
        for d in board.deployments.values()
    ]
    keys = [
        {
            "id": k.id,
            "provider": k.provider,
            "scope": k.scope,
            "key": mask(k.secret) if k.secret else "(none)",
            "state": _state(k, now),
            "reason": k.reason,
            "retry_in": _retry_in(k, now),
            "probed_at": k.probed_at,
            "probe": k.probe_reason,
        }
        for k in board.all_keys()
    ]
    report: dict[str, Any] = {"deployments": deployments, "keys": keys}
    if router is not None:
        report["router"] = {
            "active": router.active,
            "retrying": router.retrying,
            "budget_refusals": router.budget_refusals,
        }
    return report


def render(board: HealthBoard, router: Router | None = None) -> bytes:
    return orjson.dumps(health_report(board, router))
