// Request log: GET /admin/logs, filtered and paged by cursor; a row opens its attempts and,
// when capture is on, the captured request and response (GET /admin/captures/{id}). Rows show
// plugins' decisions (guardrails: plugin, rule, action) and, for calls without tokens (A2A
// agents, MCP tools), the agent's task id and the bytes in and out instead of tokens. An A2A
// task's state changes are rows of their own (operation task.state, the state in task_state);
// filtered by task id, the page lists the task's calls and state changes oldest first, as a
// timeline, and a row's task id sets that filter.
import { useEffect, useState } from "preact/hooks";
import {
  Badge, Card, ErrorBox, Modal, StatusBadge, api, fmtBytes, fmtInt, fmtMs, fmtTime, fmtUsd, html,
  query, useApi,
} from "../lib.js";

const PAGE = 50;
const RANGES = [["15m", "15 min"], ["1h", "1 hour"], ["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"], ["", "all"]];
const EMPTY = { from: "24h", model: "", key: "", team: "", status: "", error: "", protocol: "", stream: "", task_id: "", errors: false };
const ACTION_TONES = { block: "bad", redact: "warn", flag: "info", allow: "ok" };
const STATE_TONES = { completed: "ok", failed: "bad", rejected: "bad", canceled: "warn", cancelled: "warn", "input-required": "warn", "auth-required": "warn" };
const isState = (row) => row.task_state !== null && row.task_state !== undefined;

// Tokens for model calls; bytes for calls that carry none (agents, tools).
function Amount({ tokens, bytes, col }) {
  if ((tokens === null || tokens === undefined) && bytes !== null && bytes !== undefined) {
    return html`<span data-col=${col} data-unit="bytes" title="bytes">${fmtBytes(bytes)}</span>`;
  }
  return html`<span data-col=${col}>${fmtInt(tokens)}</span>`;
}

// Each plugin decision as [plugin, rule, action]: the action as a badge, then plugin and rule.
function Guardrails({ decided }) {
  if (!decided || !decided.length) return html`<span class="muted">–</span>`;
  return decided.map(([plugin, rule, action]) => html`<div class="decision" data-guardrail=${`${plugin}/${rule}/${action}`}>
    <span class=${`badge ${ACTION_TONES[action] || "info"}`}>${action}</span>
    <div class="small">${plugin} <span class="muted">· ${rule}</span></div></div>`);
}

// The table's time: the clock alone for today's rows (the date in the tooltip), so the
// columns fit a laptop's width.
function Clock({ ts }) {
  const full = fmtTime(ts);
  const today = fmtTime(new Date().toISOString()).slice(0, 10);
  return html`<span title=${full}>${full.startsWith(today) ? full.slice(11) : full}</span>`;
}

// A long id cut for the table (the whole id in its tooltip and the row's detail).
const short = (id, keep) => (id && id.length > keep + 2 ? `${id.slice(0, keep)}…` : id);

// Under the model: protocol and operation (an agent's JSON-RPC method, a tool call), and
// whether it streamed or came from the cache.
function KindLine({ row }) {
  if (isState(row)) {
    return html`<div class="muted small" data-testid="log-kind">task state → <span class=${`badge ${STATE_TONES[row.task_state] || "info"}`} data-testid="log-task-state">${row.task_state}</span></div>`;
  }
  return html`<div class="muted small" data-testid="log-kind">${row.protocol} ${row.operation}${row.stream ? html` <${Badge} value="stream" tone="info" />` : ""}${row.cache_hit ? html` <${Badge} value="cached" tone="ok" />` : ""}</div>`;
}

// The task id; clicking it lists that task's rows (not the row's detail).
function TaskLine({ row, onTask }) {
  if (!row.task_id) return "";
  const pick = (e) => { e.preventDefault(); e.stopPropagation(); onTask(row.task_id); };
  return html`<div class="muted small mono"><a href="#" class="task-link" onClick=${pick} data-testid="log-task" title=${row.task_id}>task ${short(row.task_id, 12)}</a></div>`;
}

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
      <option value="">any</option><option value="openai">OpenAI</option><option value="anthropic">Anthropic</option><option value="gemini">Gemini</option><option value="a2a">A2A agents</option><option value="mcp">MCP tools</option></select></label>
    <label class="field">Task id<input value=${draft.task_id} onInput=${set("task_id")} name="task_id" placeholder="any" /></label>
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
      // Clients may choose their request ids: ask for this row's key's call (security.md).
      const key = row.gateway_key ? `?key=${encodeURIComponent(row.gateway_key)}` : "";
      setCapture(await api("GET", `/admin/captures/${encodeURIComponent(row.request_id)}${key}`));
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
      ${isState(row) && html`<dt>Task state</dt><dd data-testid="detail-task-state">${row.task_state}</dd>`}
      <dt>Status</dt><dd><${StatusBadge} status=${row.status} /> ${row.error || ""}</dd>
      <dt>Latency</dt><dd>${fmtMs(row.latency_ms)}; first token ${fmtMs(row.ttft_ms)}</dd>
      ${isState(row) ? html`<dt>Bytes</dt><dd data-testid="detail-bytes">${fmtBytes(row.bytes_out)} (the event or answer that said so)</dd>`
        : row.bytes_in !== null && row.bytes_in !== undefined
        ? html`<dt>Bytes</dt><dd data-testid="detail-bytes">${fmtBytes(row.bytes_in)} in · ${fmtBytes(row.bytes_out)} out</dd>`
        : html`<dt>Tokens</dt><dd data-testid="detail-tokens">${fmtInt(row.input_tokens)} in (${fmtInt(row.cached_tokens)} cached) · ${fmtInt(row.output_tokens)} out (${fmtInt(row.reasoning_tokens)} reasoning)</dd>`}
      ${row.task_id && html`<dt>Task</dt><dd class="mono" data-testid="detail-task">${row.task_id}</dd>`}
      ${row.guardrails?.length ? html`<dt>Guardrails</dt><dd data-testid="detail-guardrails"><${Guardrails} decided=${row.guardrails} /></dd>` : ""}
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
  const apply = (f) => { setFilters(f); setCursors([null]); };
  // One task: its calls and state changes as a timeline, oldest first (a page is fetched
  // newest first; each page is shown in time order).
  const timeline = Boolean(filters.task_id);
  const shown = page ? (timeline ? [...page.rows].reverse() : page.rows) : [];
  useEffect(() => {
    let live = true;
    fetchPage(filters, cursor).then((p) => { if (live) { setPage(p); setError(null); } }, (e) => live && setError(e));
    return () => { live = false; };
  }, [filters, cursor]);
  return html`
    <${Card}><${Filters} key=${JSON.stringify(filters)} value=${filters} models=${models} onApply=${apply} /><//>
    <${ErrorBox} error=${error} />
    <${Card} title=${timeline ? "Task" : "Requests"} hint=${timeline
        ? "this task's calls and state changes, oldest first; click a row for its detail"
        : "newest first; click a row for its attempts and capture"}
      actions=${html`<div class="row">
        <button disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))} data-testid="log-newer">Newer</button>
        <button disabled=${!page?.next} onClick=${() => setCursors([...cursors, page.next])} data-testid="log-older">Older</button></div>`}>
      ${page?.partial && page.next && html`<p class="muted small">Few matches: searched back to a part of the log; “Older” searches further.</p>`}
      <div class="table-wrap"><table class="dense" data-testid="log-table" data-order=${timeline ? "oldest-first" : "newest-first"}>
        <thead><tr><th>Time</th><th>Model</th><th>Deployment</th><th>Status</th><th class="num" title="total; the first token or event below">Latency</th>
          <th class="num" title="tokens; bytes for agents and tools">In</th>
          <th class="num" title="tokens; bytes for agents and tools">Out</th><th class="num">Cost</th><th>Key</th><th>Guardrails</th></tr></thead>
        <tbody>${shown.map((r) => html`<tr class=${`${selected === r ? "click selected" : "click"}${isState(r) ? " task-state" : ""}`}
            onClick=${() => setSelected(r)} data-request-id=${r.request_id} data-row-id=${r.id} data-task-state=${isState(r) ? r.task_state : undefined}>
          <td><${Clock} ts=${r.ts} /></td><td>${r.model}<${KindLine} row=${r} /><${TaskLine} row=${r} onTask=${(id) => apply({ ...EMPTY, from: "", task_id: id })} /></td><td>${r.deployment || "–"}</td>
          <td><${StatusBadge} status=${r.status} />${r.error ? html` <span class="muted small">${r.error}</span>` : ""}</td>
          <td class="num">${fmtMs(r.latency_ms)}${r.ttft_ms !== null && r.ttft_ms !== undefined
            ? html`<div class="muted small" title="first token or event">first ${fmtMs(r.ttft_ms)}</div>` : ""}</td>
          <td class="num"><${Amount} tokens=${r.input_tokens} bytes=${r.bytes_in} col="in" /></td>
          <td class="num"><${Amount} tokens=${r.output_tokens} bytes=${r.bytes_out} col="out" /></td>
          <td class="num">${(isState(r) || (r.bytes_in !== null && r.bytes_in !== undefined)) && r.cost === null ? "–" : fmtUsd(r.cost)}</td><td class="mono small" title=${r.gateway_key || ""}>${short(r.gateway_key, 12) || "–"}</td>
          <td data-testid="log-guardrails"><${Guardrails} decided=${r.guardrails} /></td>
        </tr>`)}
        ${page && !page.rows.length && html`<tr><td class="empty" colspan="10">No requests match.</td></tr>`}</tbody>
      </table></div>
    <//>
    ${selected && html`<${Detail} row=${selected} onClose=${() => setSelected(null)} />`}
  `;
}
