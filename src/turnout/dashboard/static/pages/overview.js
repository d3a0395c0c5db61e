// Overview: live rates, errors, latency and spend from GET /admin/stats/overview, every 5 s.
import { useMemo, useState } from "preact/hooks";
import {
  Card, ChartBox, ErrorBox, Segmented, Stat, fmtBucket, fmtInt, fmtMs, fmtNum, fmtPct, fmtUsd,
  html, useApi,
} from "../lib.js";

const fmtPair = (a, b) => `${fmtNum(a, a >= 100 ? 0 : 1)} / ${fmtNum(b, b >= 100 ? 0 : 1)}`;
const WINDOWS = [["15m", "15 min"], ["1h", "1 hour"], ["6h", "6 hours"]];

export default function Overview() {
  const [windowName, setWindow] = useState("1h");
  const { data, error } = useApi(`/admin/stats/overview?window=${windowName}`, 5000);
  const labels = useMemo(() => (data ? data.buckets.map((b) => fmtBucket(b, data.step)) : []), [data]);
  const charts = useMemo(() => {
    if (!data) return null;
    const s = data.series;
    return {
      requests: [
        { label: "succeeded", data: s.requests.map((n, i) => n - s.errors[i]), color: "#2563eb" },
        { label: "failed", data: s.errors, color: "#dc2626" },
      ],
      latency: [
        { label: "p50", data: s.latency_p50, color: "#16a34a" },
        { label: "p95", data: s.latency_p95, color: "#f59e0b" },
      ],
      ttft: [
        { label: "p50", data: s.ttft_p50, color: "#0891b2" },
        { label: "p95", data: s.ttft_p95, color: "#7c3aed" },
      ],
      tokens: [{ label: "output tokens/s", data: s.tokens_per_s, color: "#db2777", fill: false }],
    };
  }, [data]);
  const c = data?.current;
  const total = data ? data.series.requests.reduce((a, b) => a + b, 0) : null;
  const errors = data ? data.series.errors.reduce((a, b) => a + b, 0) : null;
  return html`
    <div class="row toolbar">
      <${Segmented} label="Window" options=${WINDOWS} value=${windowName} onChange=${setWindow} />
      <span class="muted small"><span class=${error ? "live paused" : "live"}></span>updates every 5 s</span>
    </div>
    <${ErrorBox} error=${error} />
    ${data && html`
      <div class="grid stats" data-testid="overview-stats">
        <${Stat} id="ov-rps" label="Requests / s" value=${fmtNum(c.rps, 2)} sub="last 5 min" />
        <${Stat} id="ov-error-rate" label="Error rate" value=${fmtPct(c.error_rate)} sub="last 5 min" />
        <${Stat} id="ov-latency" label="Latency p50 / p95" value=${fmtPair(c.latency_p50, c.latency_p95)} sub="ms, last 5 min" />
        <${Stat} id="ov-ttft" label="First token p50 / p95" value=${fmtPair(c.ttft_p50, c.ttft_p95)} sub="ms, last 5 min" />
        <${Stat} id="ov-tokens" label="Tokens / s" value=${fmtNum(c.tokens_per_s, 1)} sub="output, last 5 min" />
        <${Stat} id="ov-requests" label="Requests" value=${fmtInt(total)} sub=${`${fmtInt(errors)} failed, this window`} />
        <${Stat} id="ov-spend-today" label="Spend today" value=${fmtUsd(data.spend.today.cost_usd)}
          sub=${`${fmtInt(data.spend.today.requests)} requests (UTC day)`} />
        <${Stat} id="ov-spend-month" label="Spend this month" value=${fmtUsd(data.spend.month.cost_usd)}
          sub=${`${fmtInt(data.spend.month.requests)} requests`} />
      </div>
      <div class="grid two">
        <${Card} title="Requests" hint=${data.step === 60 ? "per minute" : `per ${data.step / 60} minutes`}><${ChartBox} id="chart-requests" type="bar" stacked labels=${labels} datasets=${charts.requests} /><//>
        <${Card} title="Latency" hint="estimated p50 and p95"><${ChartBox} id="chart-latency" labels=${labels} datasets=${charts.latency} yFormat=${fmtMs} /><//>
        <${Card} title="Time to first token" hint="estimated p50 and p95"><${ChartBox} id="chart-ttft" labels=${labels} datasets=${charts.ttft} yFormat=${fmtMs} /><//>
        <${Card} title="Output tokens per second"><${ChartBox} id="chart-tokens" labels=${labels} datasets=${charts.tokens} /><//>
      </div>`}
  `;
}
