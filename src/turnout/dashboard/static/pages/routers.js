// Routers: the learned routers each model group serves (GET /admin/routers): the version and
// its held-out figures, the options that steer it, and this process's decisions since start.
import { Badge, Card, ErrorBox, fmtInt, fmtNum, fmtPct, fmtTime, html, useApi } from "../lib.js";

function Decisions({ rows }) {
  if (!rows) return html`<span class="muted">not counted (metrics are off)</span>`;
  if (!rows.length) return html`<span class="muted">none yet</span>`;
  const total = rows.reduce((a, r) => a + r.count, 0) || 1;
  return html`<table class="small" data-testid="router-decisions">
    <thead><tr><th>Picked</th><th>Outcome</th><th>Requests</th><th>Share</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr data-pick=${r.pick} data-outcome=${r.outcome}>
      <td>${r.pick || "–"}</td><td><${Badge} value=${r.outcome} tone=${r.outcome === "routed" ? "ok" : "warn"} /></td>
      <td data-col="count">${fmtInt(r.count)}</td><td>${fmtPct(r.count / total)}</td></tr>`)}</tbody></table>`;
}

function Router({ r }) {
  const m = r.manifest;
  const metrics = (m && m.metrics) || {};
  const data = (m && m.data) || {};
  return html`<${Card} title=${r.model} hint=${`${r.strategy} router ${r.router_version}`}>
    <div data-testid="router" data-model=${r.model}>
      ${r.error && html`<div class="error">${r.error}</div>`}
      <dl class="facts">
        <dt>Version</dt><dd data-testid="router-version">${m ? m.version : r.router_version} ${r.shadow && html`<${Badge} value="shadow" tone="warn" />`}</dd>
        <dt>Decision</dt><dd>${r.mode === "target" ? `cheapest over quality ${fmtNum(r.quality_target, 2)}` : `quality − ${fmtNum(r.cost_weight, 2)}·cost`}</dd>
        <dt>Trained</dt><dd>${m ? fmtTime(m.created) : "–"}, ${fmtInt(data.train_prompts)} prompts</dd>
        <dt>Held-out APGR</dt><dd data-testid="router-apgr">${metrics.router_apgr === undefined ? "–" : fmtNum(metrics.router_apgr, 3)} <span class="muted">(random 0.5)</span></dd>
        <dt>CPT(50%) / CPT(80%)</dt><dd>${fmtPct(metrics.router_cpt50)} / ${fmtPct(metrics.router_cpt80)} <span class="muted">of calls to ${metrics.strong || "the strong deployment"}</span></dd>
        <dt>Training data</dt><dd class="mono small">${data.fingerprint || "–"}</dd>
      </dl>
      <${Decisions} rows=${r.decisions} />
    </div>
  <//>`;
}

export default function Routers() {
  const { data, error } = useApi("/admin/routers", 5000);
  if (!data) return html`<${ErrorBox} error=${error} />`;
  if (!data.routers.length) {
    return html`<${Card} title="Learned routers"><p data-testid="routers-none">No model group uses a learned
      strategy (<code>knn</code>, <code>mlp</code>, <code>svm</code>, <code>logistic</code>; docs/learned-routing.md).</p><//>`;
  }
  return html`<${ErrorBox} error=${error} />${data.routers.map((r) => html`<${Router} r=${r} />`)}`;
}
