// Models and providers: the routing table from GET /admin/config (strategy, priority tiers,
// weights) and the providers with their masked keys.
import { Badge, Card, ErrorBox, Progress, fmtNum, html, useApi } from "../lib.js";

function Tiers({ deployments }) {
  const tiers = {};
  for (const d of deployments) (tiers[d.priority] ||= []).push(d);
  return Object.entries(tiers).sort((a, b) => a[0] - b[0]).map(([priority, ds]) => {
    const total = ds.reduce((a, d) => a + (d.weight || 0), 0) || 1;
    return html`<div class="small"><span class="muted">tier ${priority}</span>
      ${ds.map((d) => html`<div class="row"><span>${d.provider}/${d.model}</span>
        <span class="muted">weight ${fmtNum(d.weight, 2)}</span><${Progress} share=${d.weight / total} tone="share" /></div>`)}</div>`;
  });
}

export default function Models() {
  const { data, error } = useApi("/admin/config");
  if (!data) return html`<${ErrorBox} error=${error} />`;
  return html`
    <${Card} title="Models" hint="lower tiers first; weights split traffic inside a tier">
      <div class="table-wrap"><table data-testid="models-table">
        <thead><tr><th>Model</th><th>Strategy</th><th>Deployments</th></tr></thead>
        <tbody>${Object.entries(data.models).map(([name, m]) => html`<tr data-model=${name}>
          <td>${name}</td><td><${Badge} value=${m.strategy} tone="info" /></td><td><${Tiers} deployments=${m.deployments} /></td>
        </tr>`)}</tbody></table></div>
    <//>
    <${Card} title="Providers">
      <div class="table-wrap"><table data-testid="providers-table">
        <thead><tr><th>Name</th><th>Type</th><th>Base URL</th><th>Keys</th></tr></thead>
        <tbody>${Object.entries(data.providers).map(([name, p]) => html`<tr data-provider=${name}>
          <td>${name}</td><td>${p.type}</td><td class="mono small">${p.base_url || "–"}</td>
          <td class="mono small">${p.api_keys.join(", ") || "–"}</td></tr>`)}</tbody></table></div>
    <//>
  `;
}
