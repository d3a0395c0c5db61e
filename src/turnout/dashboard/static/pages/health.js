// Health: every deployment and provider key with its state, breaker and probes, from
// GET /admin/health (refreshed every 5 s), and the health keeper's schedule.
import { Badge, Card, ErrorBox, fmtAgo, fmtIn, fmtInt, fmtMs, html, useApi } from "../lib.js";

export default function Health() {
  const { data, error } = useApi("/admin/health", 5000);
  if (!data) return html`<${ErrorBox} error=${error} />`;
  const keeper = data.keeper || {};
  const next = {};
  for (const p of keeper.probes || []) {
    if (p.next_in !== null && (next[p.key] === undefined || p.next_in < next[p.key])) next[p.key] = p.next_in;
  }
  return html`
    <${ErrorBox} error=${error} />
    <${Card} title="Deployments" hint="the breaker ejects a deployment after repeated failures, then lets one trial request through">
      <div class="table-wrap"><table data-testid="health-deployments">
        <thead><tr><th>Deployment</th><th>Models</th><th>State</th><th>Reason</th><th>Retry</th>
          <th class="num">Ejections</th><th class="num">Failures in a row</th><th class="num">In flight</th>
          <th class="num">Served</th><th class="num">Latency</th></tr></thead>
        <tbody>${data.deployments.map((d) => html`<tr data-deployment=${d.id}>
          <td>${d.id}</td><td>${d.models.join(", ")}</td><td><${Badge} value=${d.state} /></td>
          <td>${d.reason || "–"}</td><td>${d.retry_in === null ? "–" : fmtIn(d.retry_in)}</td>
          <td class="num">${fmtInt(d.ejections)}</td><td class="num">${fmtInt(d.consecutive_failures)}</td>
          <td class="num">${fmtInt(d.inflight)}</td><td class="num">${fmtInt(d.served)}</td>
          <td class="num">${d.served ? fmtMs(d.latency_ms) : "–"}</td></tr>`)}</tbody>
      </table></div>
    <//>
    <${Card} title="Provider keys" hint="invalid and out-of-quota keys are skipped until they recover">
      <div class="table-wrap"><table data-testid="health-keys">
        <thead><tr><th>Key</th><th>Provider</th><th>Scope</th><th>State</th><th>Reason</th><th>Retry</th>
          <th>Last probe</th><th>Probe result</th><th class="num">Probe latency</th><th>Next probe</th></tr></thead>
        <tbody>${data.keys.map((k) => html`<tr data-key=${k.id}>
          <td class="mono">${k.key}</td><td>${k.provider}</td><td>${k.scope}</td><td><${Badge} value=${k.state} /></td>
          <td>${k.reason || "–"}</td><td>${k.retry_in === null ? "–" : fmtIn(k.retry_in)}</td>
          <td>${fmtAgo(k.probed_at)}</td><td>${k.probe ? html`<${Badge} value=${k.probe} />` : "–"}</td>
          <td class="num">${fmtMs(k.probe_latency_ms)}</td>
          <td>${next[k.id] === undefined ? "–" : fmtIn(next[k.id])}</td></tr>`)}</tbody>
      </table></div>
    <//>
    <div class="grid two">
      <${Card} title="Health keeper">
        <dl class="facts" data-testid="health-keeper">
          <dt>Running</dt><dd>${keeper.enabled ? "yes" : html`no <span class="muted">(turnout serve --with-worker, or health.keeper: true)</span>`}</dd>
          <dt>Probes each key</dt><dd>every ${fmtInt(keeper.interval)} s ± ${Math.round((keeper.jitter || 0) * 100)}%</dd>
          <dt>Probe timeout</dt><dd>${keeper.timeout} s</dd>
          ${keeper.enabled && html`<dt>Scheduled probes</dt><dd>${fmtInt((keeper.probes || []).length)}</dd>`}
          ${keeper.skipped?.length ? html`<dt>Not probed</dt><dd>${keeper.skipped.join(", ")}</dd>` : ""}
        </dl>
      <//>
      ${data.router && html`<${Card} title="Router">
        <dl class="facts"><dt>Requests in flight</dt><dd>${fmtInt(data.router.active)}</dd>
          <dt>Retrying now</dt><dd>${fmtInt(data.router.retrying)}</dd>
          <dt>Retries refused by the budget</dt><dd>${fmtInt(data.router.budget_refusals)}</dd></dl>
      <//>`}
    </div>
  `;
}
