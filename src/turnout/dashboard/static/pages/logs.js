// Request log: GET /admin/logs, filtered and paged by cursor; a row opens its attempts and,
// when capture is on, the captured request and response (GET /admin/captures/{id}).
import { useEffect, useState } from "preact/hooks";
import {
  Badge, Card, ErrorBox, Modal, StatusBadge, api, fmtInt, fmtMs, fmtTime, fmtUsd, html, query,
  useApi,
} from "../lib.js";

const PAGE = 50;
const RANGES = [["15m", "15 min"], ["1h", "1 hour"], ["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"], ["", "all"]];
const EMPTY = { from: "24h", model: "", key: "", team: "", status: "", error: "", protocol: "", stream: "", errors: false };

async function fetchPage(filters, cursor) {
  // A page with rare matches may come back short ("partial"): go on a few times, each call
  // bounded on the server, until the page is full or the log is exhausted.
  const rows = [];
  let next = cursor;
  let partial = false;
  for (let i = 0; i < 5; i += 1) {
    const params = { ...filters, errors: filters.errors ? "true" : "", limit: PAGE - rows.length, cursor: next };
    const page = await api("GET", `/admin/logs${query(params)}`);
    rows.push(...page.rows);
    next = page.next_cursor;
    partial = page.partial;
    if (!next || !partial || rows.length >= PAGE) break;
  }
  return { rows, next, partial };
}

function Filters({ value, onApply, models }) {
  const [draft, setDraft] = useState(value);
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.currentTarget.type === "checkbox" ? e.currentTarget.checked : e.currentTarget.value });
  return html`<form class="form" onSubmit=${(e) => { e.preventDefault(); onApply(draft); }} data-testid="log-filters">
    <label class="field">Time<select value=${draft.from} onChange=${set("from")} name="from">
      ${RANGES.map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select></label>
    <label class="field">Model<input list="log-models" value=${draft.model} onInput=${set("model")} name="model" placeholder="any" />
      <datalist id="log-models">${models.map((m) => html`<option value=${m} />`)}</datalist></label>
    <label class="field">Key id<input value=${draft.key} onInput=${set("key")} name="key" placeholder="any" /></label>
    <label class="field">Team<input value=${draft.team} onInput=${set("team")} name="team" placeholder="any" /></label>
    <label class="field">Status<input value=${draft.status} onInput=${set("status")} name="status" inputmode="numeric" placeholder="any" /></label>
    <label class="field">Error reason<input value=${draft.error} onInput=${set("error")} name="error" placeholder="any" /></label>
    <label class="field">Protocol<select value=${draft.protocol} onChange=${set("protocol")} name="protocol">
      <option value="">any</option><option value="openai">OpenAI</option><option value="anthropic">Anthropic</option><option value="gemini">Gemini</option><option value="a2a">A2A agents</option></select></label>
    <label class="field">Stream<select value=${draft.stream} onChange=${set("stream")} name="stream">
      <option value="">any</option><option value="true">streams</option><option value="false">not streams</option></select></label>
    <label class="check"><input type="checkbox" checked=${draft.errors} onChange=${set("errors")} name="errors" />Failed only</label>
    <div class="row"><button class="primary" type="submit" data-testid="log-apply">Apply</button>
      <button type="button" onClick=${() => { setDraft(EMPTY); onApply(EMPTY); }}>Clear</button></div>
  </form>`;
}

function Detail({ row, onClose }) {
  const [capture, setCapture] = useState(null);
  const [captureError, setCaptureError] = useState(null);
  async function loadCapture() {
    try {
      setCapture(await api("GET", `/admin/captures/${encodeURIComponent(row.request_id)}`));
      setCaptureError(null);
    } catch (err) {
      setCaptureError(err);
    }
  }
  const attempts = row.attempt_log || [];
  return html`<${Modal} title="Request" onClose=${onClose}>
    <dl class="facts" data-testid="log-detail">
      <dt>Time</dt><dd>${fmtTime(row.ts)}</dd>
      <dt>Request id</dt><dd class="mono">${row.request_id}</dd>
      <dt>Model</dt><dd>${row.model}${row.fallback ? html` <span class="muted">(answered by fallback ${row.fallback})</span>` : ""}</dd>
      <dt>Deployment</dt><dd>${row.deployment || "–"}</dd>
      <dt>Protocol</dt><dd>${row.protocol} ${row.operation}${row.stream ? " · stream" : ""}${row.cache_hit ? " · cache hit" : ""}</dd>
      <dt>Status</dt><dd><${StatusBadge} status=${row.status} /> ${row.error || ""}</dd>
      <dt>Latency</dt><dd>${fmtMs(row.latency_ms)}; first token ${fmtMs(row.ttft_ms)}</dd>
      <dt>Tokens</dt><dd data-testid="detail-tokens">${fmtInt(row.input_tokens)} in (${fmtInt(row.cached_tokens)} cached) · ${fmtInt(row.output_tokens)} out (${fmtInt(row.reasoning_tokens)} reasoning)</dd>
      <dt>Cost</dt><dd>${fmtUsd(row.cost)}</dd>
      <dt>Key</dt><dd>${row.gateway_key || "–"}${row.team ? ` · team ${row.team}` : ""}</dd>
    </dl>
    <h3>Attempts (${row.attempts ?? 0})</h3>
    ${attempts.length ? html`<div class="table-wrap"><table data-testid="detail-attempts">
      <thead><tr><th>#</th><th>Deployment</th><th>Provider key</th><th>Status</th><th>Reason</th><th class="num">Latency</th></tr></thead>
      <tbody>${attempts.map((a, i) => html`<tr><td>${i + 1}</td><td>${a.deployment}</td><td class="mono">${a.key || "–"}</td>
        <td>${a.status ?? "–"}</td><td>${a.reason || "ok"}</td><td class="num">${fmtMs(a.ms)}</td></tr>`)}</tbody></table></div>`
      : html`<p class="muted" data-testid="detail-attempts">One attempt: ${row.deployment || "none"}, key ${row.key_id || "–"}, status ${row.status}.</p>`}
    <h3>Captured request and response</h3>
    ${capture ? html`<pre class="json" data-testid="detail-capture">${JSON.stringify(capture.capture, null, 2)}</pre>`
      : html`<button onClick=${loadCapture} data-testid="detail-load-capture">Load capture</button>`}
    <${ErrorBox} error=${captureError} />
  <//>`;
}

export default function Logs() {
  const [filters, setFilters] = useState(EMPTY);
  const [cursors, setCursors] = useState([null]); // the cursor of every page seen so far
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(null);
  const config = useApi("/admin/config");
  const models = Object.keys(config.data?.models || {});
  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let live = true;
    fetchPage(filters, cursor).then((p) => { if (live) { setPage(p); setError(null); } }, (e) => live && setError(e));
    return () => { live = false; };
  }, [filters, cursor]);
  return html`
    <${Card}><${Filters} value=${filters} models=${models} onApply=${(f) => { setFilters(f); setCursors([null]); }} /><//>
    <${ErrorBox} error=${error} />
    <${Card} title="Requests" hint="newest first; click a row for its attempts and capture"
      actions=${html`<div class="row">
        <button disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))} data-testid="log-newer">Newer</button>
        <button disabled=${!page?.next} onClick=${() => setCursors([...cursors, page.next])} data-testid="log-older">Older</button></div>`}>
      ${page?.partial && page.next && html`<p class="muted small">Few matches: searched back to a part of the log; “Older” searches further.</p>`}
      <div class="table-wrap"><table data-testid="log-table">
        <thead><tr><th>Time</th><th>Model</th><th>Deployment</th><th>Status</th><th class="num">Latency</th>
          <th class="num">First token</th><th class="num">In</th><th class="num">Out</th><th class="num">Cost</th><th>Key</th><th>Kind</th></tr></thead>
        <tbody>${(page?.rows || []).map((r) => html`<tr class=${selected === r ? "click selected" : "click"}
            onClick=${() => setSelected(r)} data-request-id=${r.request_id}>
          <td>${fmtTime(r.ts)}</td><td>${r.model}</td><td>${r.deployment || "–"}</td>
          <td><${StatusBadge} status=${r.status} />${r.error ? html` <span class="muted small">${r.error}</span>` : ""}</td>
          <td class="num">${fmtMs(r.latency_ms)}</td><td class="num">${fmtMs(r.ttft_ms)}</td>
          <td class="num">${fmtInt(r.input_tokens)}</td><td class="num">${fmtInt(r.output_tokens)}</td>
          <td class="num">${fmtUsd(r.cost)}</td><td class="mono small">${r.gateway_key || "–"}</td>
          <td>${r.stream ? html`<${Badge} value="stream" tone="info" />` : ""}${r.cache_hit ? html` <${Badge} value="cached" tone="ok" />` : ""} <span class="muted small">${r.protocol}</span></td>
        </tr>`)}
        ${page && !page.rows.length && html`<tr><td class="empty" colspan="11">No requests match.</td></tr>`}</tbody>
      </table></div>
    <//>
    ${selected && html`<${Detail} row=${selected} onClose=${() => setSelected(null)} />`}
  `;
}
