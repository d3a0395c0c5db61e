"""The cost-quality curve of a router against random routing and the two fixed choices, with
RouteLLM's summary figures.

Between a *weak* (cheap) and a *strong* (expensive) deployment, a router with a threshold sends
some share ``c`` of the prompts to the strong one. Over prompts answered by both (only those
can be scored whatever the router picks), each threshold gives a point (``c``, mean quality).
RouteLLM (Ong et al., 2024, "RouteLLM: Learning to Route LLMs with Preference Data") defines:

- **PGR** (performance gap recovered) of a point: ``(q - q_weak) / (q_strong - q_weak)``;
- **APGR**: the area under the quality curve over ``c`` from 0 to 1, with the always-weak area
  subtracted and divided by the gap's area: ``(AUC - q_weak) / (q_strong - q_weak)``, that is
  the mean PGR over the share of strong calls. Random routing recovers the gap linearly, so
  its APGR is 0.5; a perfect router's is close to 1;
- **CPT(x %)** (call-performance threshold): the smallest share of calls to the strong model
  at which the curve recovers x % of the gap. Random needs x %.

Here every distinct router score is a threshold (RouteLLM samples ten quantiles), and between
two thresholds the curve is a straight line: prompts with equal scores cannot be told apart,
and splitting such a tie at random moves along that line.

Two decision rules are scored, the two the strategy offers: ``target`` (send to the weak
deployment while its predicted quality clears the target: the curve sweeps the target) and
``tradeoff`` (quality - λ·cost: the curve sweeps λ, i.e. thresholds the predicted gain).
An ``oracle`` curve (the strong model exactly where it does better) bounds what any router
can do on the data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from turnout.router.dataset import DatasetError
from turnout.router.model import RouterModel
from turnout.router.training import Matrix, build_matrix

Curve = list[tuple[float, float, float]]  # (share of strong calls, quality, cost per call)
TARGETS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def choose_pair(
    matrix: Matrix, costs: Mapping[str, float | None], strong: str | None, weak: str | None
) -> tuple[int, int]:
    """Indices of the weak and strong deployments: as named, else the cheapest and the
    dearest by mean cost, else the worst and the best by mean quality."""
    names = list(matrix.deployments)
    for given in (strong, weak):
        if given is not None and given not in names:
            raise DatasetError(f"no labels for deployment {given!r} (have {names})")
    known = {d: c for d, c in costs.items() if d in names and c is not None}
    if weak is None or strong is None:
        if len(known) >= 2:
            order = sorted(known, key=lambda d: known[d])
        else:
            quality = {d: float(np.nanmean(matrix.scores[:, names.index(d)])) for d in names}
            order = sorted(names, key=lambda d: quality[d])
        weak = weak or order[0]
        strong = strong or order[-1]
    if weak == strong:
        raise DatasetError("the weak and the strong deployment must differ")
    return names.index(weak), names.index(strong)


def curve(
    need: NDArray[np.float64],
    q_weak: NDArray[np.float64],
    q_strong: NDArray[np.float64],
    c_weak: NDArray[np.float64],
    c_strong: NDArray[np.float64],
) -> Curve:
    """The points reached by sending the prompts with the highest ``need`` to the strong
    deployment, one point per distinct value of ``need`` (plus both ends)."""
    n = len(need)
    order = np.argsort(-need, kind="stable")
    gain_q = (q_strong - q_weak)[order]
    gain_c = (c_strong - c_weak)[order]
    base_q, base_c = float(q_weak.sum()), float(c_weak.sum())
    points = [(0.0, base_q / n, base_c / n)]
    sorted_need = need[order]
    cum_q, cum_c = np.cumsum(gain_q), np.cumsum(gain_c)
    for m in range(1, n + 1):
        if m < n and sorted_need[m] == sorted_need[m - 1]:
            continue  # inside a tie: not reachable by a threshold
        points.append((m / n, (base_q + cum_q[m - 1]) / n, (base_c + cum_c[m - 1]) / n))
    return points


def apgr(points: Curve, q_weak: float, q_strong: float) -> float | None:
    gap = q_strong - q_weak
    if abs(gap) < 1e-12:
        return None
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    auc = float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2.0))
    return (auc - q_weak) / gap


def cpt(points: Curve, q_weak: float, q_strong: float, recovered: float) -> float | None:
    """Smallest share of strong calls where the curve reaches ``recovered`` of the gap."""
    gap = q_strong - q_weak
    if abs(gap) < 1e-12:
        return None
    goal = q_weak + recovered * gap
    for (c0, y0, _), (c1, y1, _) in itertools.pairwise(points):
        if y0 >= goal - 1e-12:
            return c0
        if y1 >= goal - 1e-12:
            return c0 + (goal - y0) / (y1 - y0) * (c1 - c0)
    return points[-1][0] if points and points[-1][1] >= goal - 1e-12 else None


def _summary(name: str, points: Curve, q_weak: float, q_strong: float) -> dict[str, Any]:
    return {
        "name": name,
        "apgr": _round(apgr(points, q_weak, q_strong)),
        "cpt50": _round(cpt(points, q_weak, q_strong, 0.5)),
        "cpt80": _round(cpt(points, q_weak, q_strong, 0.8)),
        "points": [[round(c, 6), round(q, 6), _round(cost, 10)] for c, q, cost in points],
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def evaluate(
    model: RouterModel,
    rows: Sequence[Mapping[str, Any]],
    *,
    strong: str | None = None,
    weak: str | None = None,
    embed: Any = None,
    cost_weight: float = 0.5,
) -> dict[str, Any]:
    """The evaluation report (JSON-ready) of ``model`` on labelled ``rows``."""
    matrix = build_matrix(rows, model.deployments)
    if not matrix.prompts:
        raise DatasetError("no labelled rows for the router's deployments")
    w, s = choose_pair(matrix, model.costs, strong, weak)
    paired = ~np.isnan(matrix.scores[:, w]) & ~np.isnan(matrix.scores[:, s])
    idx = np.flatnonzero(paired)
    if len(idx) < 2:
        raise DatasetError(
            "fewer than two held-out prompts were answered by both "
            f"{matrix.deployments[w]} and {matrix.deployments[s]}; the curve needs both answers"
        )
    texts = [matrix.prompts[i] for i in idx]
    embeddings = embed(texts) if embed is not None and model.features.wants_embedding else None
    predicted = model.predict(texts, embeddings)
    qw, qs = matrix.scores[idx, w], matrix.scores[idx, s]
    cw = _cost_column(matrix, idx, w, model.costs.get(matrix.deployments[w]))
    cs = _cost_column(matrix, idx, s, model.costs.get(matrix.deployments[s]))
    q_weak, q_strong = float(qw.mean()), float(qs.mean())
    pw, ps = predicted[:, w], predicted[:, s]
    rel = (cs - cw) / max(float(np.max(cs)), 1e-300) if np.any(cs > 0) else np.ones(len(idx))
    curves = {
        "router": curve(-pw, qw, qs, cw, cs),  # target rule: weak while p_weak clears it
        "tradeoff": curve(ps - pw - cost_weight * rel, qw, qs, cw, cs),
        "oracle": curve(qs - qw, qw, qs, cw, cs),
        "random": [(0.0, q_weak, float(cw.mean())), (1.0, q_strong, float(cs.mean()))],
    }
    operating = []
    for target in TARGETS:
        to_strong = pw < target
        operating.append(
            {
                "quality_target": target,
                "strong_share": round(float(to_strong.mean()), 4),
                "quality": round(float(np.where(to_strong, qs, qw).mean()), 4),
                "cost_per_call": _round(float(np.where(to_strong, cs, cw).mean()), 10),
            }
        )
    return {
        "version": model.version,
        "kind": model.kind,
        "weak": matrix.deployments[w],
        "strong": matrix.deployments[s],
        "prompts": len(matrix.prompts),
        "paired_prompts": len(idx),
        "quality": {"weak": round(q_weak, 4), "strong": round(q_strong, 4)},
        "cost_per_call": {
            "weak": _round(float(cw.mean()), 10),
            "strong": _round(float(cs.mean()), 10),
        },
        "curves": {name: _summary(name, pts, q_weak, q_strong) for name, pts in curves.items()},
        "operating_points": operating,
        "calibration": _calibration(model, matrix, embed),
    }


def _cost_column(
    matrix: Matrix, idx: NDArray[Any], d: int, fallback: float | None
) -> NDArray[np.float64]:
    col: NDArray[np.float64] = matrix.costs[idx, d].copy()
    fill = fallback if fallback is not None else 0.0
    col[np.isnan(col)] = fill
    return col


def _calibration(model: RouterModel, matrix: Matrix, embed: Any) -> dict[str, Any]:
    """Per deployment, how far predictions are from the held-out labels (Brier score: the
    mean squared error of the predicted probability; 0.25 is a coin)."""
    if embed is not None and model.features.wants_embedding:
        predicted = model.predict(matrix.prompts, embed(matrix.prompts))
    else:
        predicted = model.predict(matrix.prompts)
    out = {}
    for d, name in enumerate(matrix.deployments):
        mask = ~np.isnan(matrix.scores[:, d])
        if not mask.any():
            continue
        err = predicted[mask, d] - matrix.scores[mask, d]
        out[name] = {
            "labels": int(mask.sum()),
            "mean_label": round(float(matrix.scores[mask, d].mean()), 4),
            "mean_predicted": round(float(predicted[mask, d].mean()), 4),
            "brier": round(float(np.mean(err**2)), 4),
        }
    return out


def render(report: Mapping[str, Any]) -> str:
    """The report as a few lines of text for the terminal."""
    q, costs = report["quality"], report["cost_per_call"]
    lines = [
        f"router {report.get('version') or '(unsaved)'} ({report['kind']}): "
        f"{report['weak']} (weak) vs {report['strong']} (strong), "
        f"{report['paired_prompts']} held-out prompts answered by both",
        f"  always weak:   quality {q['weak']:.3f}   cost/call {_money(costs['weak'])}",
        f"  always strong: quality {q['strong']:.3f}   cost/call {_money(costs['strong'])}",
        f"  {'curve':<10} {'APGR':>6} {'CPT(50%)':>9} {'CPT(80%)':>9}",
    ]
    for name in ("router", "tradeoff", "random", "oracle"):
        c = report["curves"][name]
        lines.append(
            f"  {name:<10} {_num(c['apgr']):>6} {_pct(c['cpt50']):>9} {_pct(c['cpt80']):>9}"
        )
    lines.append("  quality_target -> strong share, quality, cost/call:")
    for p in report["operating_points"]:
        lines.append(
            f"    {p['quality_target']:<5} -> {p['strong_share']:.1%}  {p['quality']:.3f}  "
            f"{_money(p['cost_per_call'])}"
        )
    return "\n".join(lines)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:.6f}"
