"""The evaluation report as a PNG: quality against cost per call, and the share of the
quality gap recovered against the share of strong calls. Headless (matplotlib's Agg
backend): no display is ever needed."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

STYLE = {
    "router": {"color": "tab:blue", "marker": ".", "linestyle": "-", "label": "router (target)"},
    "tradeoff": {
        "color": "tab:purple",
        "marker": "",
        "linestyle": "-.",
        "label": "router (quality - λ·cost)",
    },
    "random": {"color": "tab:gray", "marker": "", "linestyle": "--", "label": "random"},
    "oracle": {"color": "tab:green", "marker": "", "linestyle": ":", "label": "oracle"},
}


def png(report: Mapping[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5), dpi=100)
    left, right = fig.subplots(1, 2)
    q_weak, q_strong = report["quality"]["weak"], report["quality"]["strong"]
    gap = (q_strong - q_weak) or 1.0
    for name, style in STYLE.items():
        c = report["curves"][name]
        pts = c["points"]
        share = [p[0] * 100 for p in pts]
        quality = [p[1] for p in pts]
        cost = [(p[2] or 0.0) * 1000 for p in pts]
        label = f"{style['label']} (APGR {c['apgr']})" if c["apgr"] is not None else style["label"]
        kw = {k: v for k, v in style.items() if k != "label"}
        left.plot(cost, quality, label=label, **kw)
        right.plot(share, [(q - q_weak) / gap for q in quality], label=label, **kw)
    costs = report["cost_per_call"]
    for key, color in (("weak", "tab:orange"), ("strong", "tab:red")):
        left.scatter(
            [(costs[key] or 0.0) * 1000],
            [report["quality"][key]],
            color=color,
            zorder=5,
            label=f"always {key}: {report[key]}",
        )
    left.set_xlabel("cost per 1,000 calls (USD)")
    left.set_ylabel("mean quality (held-out)")
    left.set_title("cost-quality")
    left.legend(fontsize=8)
    right.axhline(0.5, color="0.8", linewidth=0.8)
    right.axhline(0.8, color="0.8", linewidth=0.8)
    right.set_xlabel("calls to the strong deployment (%)")
    right.set_ylabel("performance gap recovered")
    cpt = report["curves"]["router"]
    right.set_title(
        f"CPT(50%) {_pct(cpt['cpt50'])}, CPT(80%) {_pct(cpt['cpt80'])} (router, target rule)"
    )
    right.legend(fontsize=8)
    fig.suptitle(
        f"router {report.get('version') or ''} ({report['kind']}), "
        f"{report['paired_prompts']} held-out prompts"
    )
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
