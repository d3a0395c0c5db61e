// Usage and cost: GET /admin/stats/series, stacked by group, with a table and a CSV export.
import { useMemo, useState } from "preact/hooks";
import {
  Card, ChartBox, ErrorBox, Segmented, downloadCsv, fmtBucket, fmtInt, fmtMs, fmtNum, fmtUsd,
  html, query, useApi,
} from "../lib.js";

const RANGES = [["1h", "1 hour"], ["6h", "6 hours"], ["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]];
const GROUPS = [["model", "Model"], ["provider", "Provider"], ["deployment", "Deployment"], ["key", "Key"], ["team", "Team"]];
const METRICS = [
  ["requests", "Requests", fmtInt],
  ["input_tokens", "Input tokens", fmtInt],
  ["output_tokens", "Output tokens", fmtInt],
  ["cached_tokens", "Cached tokens", fmtInt],
  ["reasoning_tokens", "Reasoning tokens", fmtInt],
  ["cost", "Cost", fmtUsd],
  ["errors", "Errors", fmtInt],
];
const COLUMNS = ["requests", "errors", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"];

function label(group, groupBy) {
  // "": a call refused before its body named a model (a wrong key, refused with 401)
  if (group === null || group === "") return groupBy === "team" ? "(no team)" : groupBy === "key" ? "(no key)" : "(none)";
  return group;
}

export default function Usage({ params }) {
  const [range, setRange] = useState(params.get("range") || "24h");
  const [groupBy, setGroupBy] = useState(params.get("group_by") || "model");
  const [metric, setMetric] = useState("requests");
  const path = `/admin/stats/series${query({ group_by: groupBy, from: range })}`;
  const { data, error } = useApi(path, 30000);
  const keys = useApi(groupBy === "key" ? "/admin/keys?include_revoked=true" : null);
  const names = useMemo(() => {
    const out = {};
    for (const k of keys.data?.keys || []) out[k.id] = k.name ? `${k.name} (${k.prefix}…)` : `${k.prefix}…`;
    return out;
  }, [keys.data]);
  const show = (g) => (groupBy === "key" && g && names[g] ? names[g] : label(g, groupBy));
  const format = METRICS.find((m) => m[0] === metric)[2];
  const chart = useMemo(() => {
    if (!data) return null;
    return {
      labels: data.buckets.map((b) => fmtBucket(b, data.step)),
      datasets: data.groups.map((g) => ({ label: show(g.group), data: g.series[metric] })),
    };
  }, [data, metric, names]);
  function exportCsv() {
    const rows = [["bucket_start_utc", groupBy, "requests", "errors", "input_tokens", "output_tokens",
      "cached_tokens", "reasoning_tokens", "cost_usd"]];
    data.buckets.forEach((b, i) => {
      for (const g of data.groups) {
        const s = g.series;
        if (!s.requests[i]) continue;
        rows.push([new Date(b * 1000).toISOString(), g.group ?? "", s.requests[i], s.errors[i],
          s.input_tokens[i], s.output_tokens[i], s.cached_tokens[i], s.reasoning_tokens[i], s.cost[i]]);
      }
    });
    downloadCsv(`turnout-usage-${groupBy}-${range}.csv`, rows);
  }
  return html`
    <div class="row toolbar">
      <${Segmented} label="Range" options=${RANGES} value=${range} onChange=${setRange} />
      <${Segmented} label="Group by" options=${GROUPS} value=${groupBy} onChange=${setGroupBy} />
    </div>
    <${ErrorBox} error=${error} />
    ${data && html`
      <${Card} title=${METRICS.find((m) => m[0] === metric)[1]}
        hint=${`per ${data.step >= 3600 ? `${data.step / 3600} h` : `${data.step / 60} min`}, stacked by ${groupBy}`}
        actions=${html`<select aria-label="Metric" value=${metric} onChange=${(e) => setMetric(e.currentTarget.value)} data-testid="usage-metric">
          ${METRICS.map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select>`}>
        <${ChartBox} id="chart-usage" type="bar" stacked tall labels=${chart.labels} datasets=${chart.datasets} yFormat=${format} />
      <//>
      <${Card} title="Totals" hint=${`${new Date(data.from).toLocaleString()} – ${new Date(data.to).toLocaleString()}`}
        actions=${html`<button onClick=${exportCsv} data-testid="usage-csv">Export CSV</button>`}>
        <div class="table-wrap"><table data-testid="usage-table">
          <thead><tr><th>${groupBy}</th>${COLUMNS.map((c) => html`<th class="num">${c.replace("_tokens", "").replace("_", " ")}</th>`)}
            <th class="num">cost</th><th class="num">avg latency</th></tr></thead>
          <tbody>${data.groups.map((g) => html`<tr data-group=${g.group ?? ""}>
            <td title=${g.group ?? ""}>${show(g.group)}</td>
            ${COLUMNS.map((c) => html`<td class="num" data-col=${c}>${fmtInt(g.total[c])}</td>`)}
            <td class="num" data-col="cost">${fmtUsd(g.total.cost_usd)}</td>
            <td class="num">${fmtMs(g.total.latency_ms_avg)}</td></tr>`)}
            ${!data.groups.length && html`<tr><td class="empty" colspan="9">No requests in this range.</td></tr>`}
          </tbody>
          <tfoot><tr data-group="__total"><td>Total</td>
            ${COLUMNS.map((c) => html`<td class="num" data-col=${c}>${fmtInt(data.total[c])}</td>`)}
            <td class="num" data-col="cost">${fmtUsd(data.total.cost_usd)}</td>
            <td class="num">${fmtMs(data.total.latency_ms_avg)}</td></tr></tfoot>
        </table></div>
        ${data.total.unpriced_requests > 0 && html`<p class="muted small">${fmtNum(data.total.unpriced_requests, 0)} ${data.total.unpriced_requests === 1 ? "request" : "requests"} had no known price: not in the cost.</p>`}
      <//>`}
  `;
}
