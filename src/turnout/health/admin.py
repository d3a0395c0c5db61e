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
    from turnout.config.schema import HealthConfig
    from turnout.health.keeper import HealthKeeper
    from turnout.routing.router import Router
    from turnout.shared.port import LeaseInfo


def _state(target: Breaker, now: float) -> str:
    if target.state != ACTIVE and (target.trial or target.until <= now):
        return "half_open"
    return target.state


def _retry_in(target: Breaker, now: float) -> float | None:
    return round(target.until - now, 3) if target.until > now else None


def keeper_report(
    keeper: HealthKeeper | None,
    config: HealthConfig,
    lease: LeaseInfo | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The keeper's schedule: whether it runs here, who holds the lease (the one process that
    probes), how often, and when each key is probed next."""
    out: dict[str, Any] = {
        "enabled": keeper is not None,
        "interval": config.interval,
        "jitter": config.jitter,
        "timeout": config.timeout,
        "lease": {
            "holder": lease.holder if lease is not None else None,
            "expires_in": lease.expires_in if lease is not None else None,
            "ttl": config.lease,
            "held_here": lease is not None and lease.holder is not None and lease.holder == name,
        },
    }
    if keeper is not None:
        now = keeper.clock()
        out["probes"] = [
            {
                "key": t.key.id,
                "model": t.model,
                "next_in": round(max(0.0, t.next_at - now), 3) if t.next_at else None,
                "failures": t.failures,
            }
            for t in keeper.targets
        ]
        out["skipped"] = list(keeper.skipped)
    return out


def health_report(
    board: HealthBoard,
    router: Router | None = None,
    keeper: HealthKeeper | None = None,
    lease: LeaseInfo | None = None,
    name: str | None = None,
) -> dict[str, Any]:
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
            # model: "*": each model name's own record, in a bounded table (health/wildcard.py)
            "per_model": (board.wildcards[d.id].report(now) if d.id in board.wildcards else None),
            # max_concurrent counted for every replica (shared.backend: redis)
            "shared_slots": (
                {
                    "held_here": d.slots.held(),
                    "refused": d.slots.refused,
                    "redis_failures": d.slots.failures,
                }
                if d.slots is not None
                else None
            ),
        }
        for d in board.deployments.values()
    ]
    keys = [
        {
            "id": k.id,
            "provider": k.provider,
            "scope": k.scope,
            # An OAuth account is named by its id, never by (part of) its token.
            "key": getattr(k, "account", None) or (mask(k.secret) if k.secret else "(none)"),
            "state": _state(k, now),
            "reason": k.reason,
            "retry_in": _retry_in(k, now),
            "probed_at": k.probed_at,
            "probe": k.probe_reason,
            "probe_latency_ms": (
                round(k.probe_latency * 1000, 3) if k.probe_latency is not None else None
            ),
        }
        for k in board.all_keys()
    ]
    report: dict[str, Any] = {
        "deployments": deployments,
        "keys": keys,
        "keeper": keeper_report(keeper, board.runtime.config.health, lease, name),
    }
    if board.trials is not None:
        trials = board.trials
        report["shared"] = {
            "trials": {
                "taken": trials.taken,
                "refused": trials.refused,
                "held": len(trials.held),
                "redis_failures": trials.failures,
            }
        }
        claims = next(
            (c for p in (router.plans.values() if router else ()) if (c := _claims(p))), None
        )
        if claims is not None:
            report["shared"]["pin_claims"] = {
                "claims": claims.claims,
                "redis_failures": claims.failures,
            }
    if router is not None:
        report["router"] = {
            "active": router.active,
            "retrying": router.retrying,
            "budget_refusals": router.budget_refusals,
            # live sticky pins per model (shared by replicas with shared.backend: redis)
            "sticky_pins": {
                name: len(pins)
                for name, plan in router.plans.items()
                if isinstance(pins := getattr(plan.strategy, "pins", None), dict)
            },
        }
    return report


def _claims(plan: Any) -> Any:
    """The shared first-pin claims of a sticky model (turnout.shared.pins), if any."""
    return getattr(getattr(plan, "strategy", None), "claims", None)


def render(
    board: HealthBoard,
    router: Router | None = None,
    keeper: HealthKeeper | None = None,
    lease: LeaseInfo | None = None,
    name: str | None = None,
) -> bytes:
    return orjson.dumps(health_report(board, router, keeper, lease, name))
