"""``GET /admin/routers``: the learned routers this gateway serves, and what they decided.

For every model group whose strategy is a learned one (docs/learned-routing.md): the version
it serves and that version's manifest (kind, creation time, held-out APGR and CPT, training
data fingerprint and size), the options that steer the decision (mode, quality target, shadow),
and this process's decisions since it started, by picked deployment and outcome (``routed``,
``shadow``, ``fallback``: no prediction, routed by priority), from the same counters as
``turnout_route_decisions_total``. Reads manifests only (JSON): it never loads a model.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from turnout.state import GatewayState

LEARNED = ("knn", "mlp", "svm", "logistic")
_MANIFEST_KEYS = ("version", "kind", "created", "deployments", "metrics", "data", "storage")


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin/routers", tags=["learned routing"])

    @api.get("")
    async def routers() -> dict[str, Any]:
        from turnout.router.store import Registry, RouterStoreError

        obs = state.observability
        metrics = obs.metrics if obs is not None else None
        decisions = dict(metrics.routes) if metrics is not None else None
        out = []
        for name, model in state.runtime.config.models.items():
            if model.strategy not in LEARNED:
                continue
            opts = dict(model.strategy_options)
            entry: dict[str, Any] = {
                "model": name,
                "strategy": model.strategy,
                "router_version": opts.get("router_version"),
                "registry": opts.get("registry", "routers"),
                "mode": opts.get("mode", "target"),
                "quality_target": opts.get("quality_target", 0.8),
                "cost_weight": opts.get("cost_weight", 0.5),
                "shadow": bool(opts.get("shadow", False)),
                "deployments": [f"{d.provider}/{d.model}" for d in model.deployments],
            }
            try:
                registry = Registry(entry["registry"])
                manifest = registry.manifest(str(entry["router_version"]))
                entry["manifest"] = {k: manifest.get(k) for k in _MANIFEST_KEYS}
            except RouterStoreError as exc:
                entry["manifest"] = None
                entry["error"] = str(exc)
            if decisions is not None:
                entry["decisions"] = sorted(
                    ({"pick": pick, "outcome": outcome, "count": n}
                     for (m, pick, outcome), n in decisions.items() if m == name),
                    key=lambda d: (d["outcome"], d["pick"]),
                )  # fmt: skip
            out.append(entry)
        return {"routers": out, "decisions_counted": decisions is not None}

    return api
