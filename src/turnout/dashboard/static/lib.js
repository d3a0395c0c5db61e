// Shared pieces of the dashboard: the admin API client, polling, formatting and components.
// Everything the page shows comes from the admin API through api() below.
import { h } from "preact";
import { useEffect, useRef, useState, useCallback } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);

// -- the admin API --------------------------------------------------------------------------
let csrfToken = null;
let onUnauthorized = () => {};

export function setCsrf(token) { csrfToken = token; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

function messageOf(data, fallback) {
  if (data && typeof data === "object") {
    const d = data.detail ?? data.error?.message ?? data.message;
    if (Array.isArray(d)) {
      return d.map((e) => `${(e.loc || []).filter((p) => p !== "body").join(".")}: ${e.msg}`).join("; ");
    }
    if (typeof d === "string") return d;
    if (d && typeof d === "object") return JSON.stringify(d);
  }
  return typeof data === "string" && data ? data : fallback;
}

export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && csrfToken) init.headers["x-csrf-token"] = csrfToken;
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const error = new ApiError(response.status, messageOf(data, response.statusText), data);
    if (response.status === 401 && path !== "/admin/session") onUnauthorized();
    throw error;
  }
  return data;
}

// A URL another party chose (a provider's device endpoint names its verification page) may
// become a link only when it is a web page: https, or http on this machine's loopback (a
// local identity provider). Anything else (javascript:, data:, a relative path) is null and
// shown as text, never given to href, where a browser would run it.
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);
export function safeHref(url) {
  if (typeof url !== "string" || !url) return null;
  let parsed;
  try { parsed = new URL(url); } catch { return null; }
  if (parsed.protocol === "https:") return parsed.href;
  if (parsed.protocol === "http:" && LOOPBACK.has(parsed.hostname)) return parsed.href;
  return null;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

// Load a GET path, again every `every` ms while the tab is visible; reload() on demand.
export function useApi(path, every = 0) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const tick = useRef(0);
  const load = useCallback(async () => {
    if (!path) return;
    const mine = ++tick.current;
    try {
      const data = await api("GET", path);
      if (mine === tick.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (mine === tick.current) setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, [path]);
  useEffect(() => {
    setState((s) => ({ ...s, loading: true }));
    load();
    if (!every) return undefined;
    const timer = setInterval(() => { if (!document.hidden) load(); }, every);
    return () => clearInterval(timer);
  }, [load, every]);
  return { ...state, reload: load };
}

// -- formatting -----------------------------------------------------------------------------
const intFormat = new Intl.NumberFormat("en-US");
export const fmtInt = (n) => (n === null || n === undefined ? "–" : intFormat.format(Math.round(n)));
export function fmtNum(n, digits = 2) {
  if (n === null || n === undefined) return "–";
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: digits }).format(n);
}
export function fmtUsd(n) {
  if (n === null || n === undefined) return "unpriced";
  if (n === 0) return "$0";
  const digits = Math.abs(n) >= 1 ? 2 : 6;
  return "$" + new Intl.NumberFormat("en-US", { maximumFractionDigits: digits }).format(n);
}
export function fmtMs(n) {
  if (n === null || n === undefined) return "–";
  if (n >= 10000) return `${fmtNum(n / 1000, 1)} s`;
  return `${fmtNum(n, n >= 100 ? 0 : 1)} ms`;
}
export const fmtPct = (x) => (x === null || x === undefined ? "–" : `${fmtNum(x * 100, 2)}%`);
export function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${fmtNum(n, i ? 1 : 0)} ${units[i]}`;
}
const pad = (n) => String(n).padStart(2, "0");
export function fmtTime(value) {
  if (value === null || value === undefined) return "–";
  const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function fmtBucket(epoch, step) {
  const d = new Date(epoch * 1000);
  if (step >= 86400) return `${d.getMonth() + 1}/${d.getDate()}`;
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return step >= 3600 ? `${d.getMonth() + 1}/${d.getDate()} ${hm}` : hm;
}
export function fmtAgo(epochSeconds) {
  if (!epochSeconds) return "never";
  const s = Math.max(0, Date.now() / 1000 - epochSeconds);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${fmtNum(s / 3600, 1)} h ago`;
}
export function fmtIn(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `in ${Math.round(seconds)} s`;
  return `in ${Math.round(seconds / 60)} min`;
}
// A width class (w0..w100, steps of 5): the page's CSP forbids inline styles.
export const widthClass = (share) => `w${Math.min(100, Math.max(0, Math.round((share || 0) * 20) * 5))}`;

// -- components -----------------------------------------------------------------------------
export function Card({ title, hint, children, actions }) {
  return html`<section class="card">
    ${title && html`<div class="row"><h2>${title}${hint && html`<span class="hint">${hint}</span>`}</h2>
      <span class="spacer"></span>${actions}</div>`}
    ${children}
  </section>`;
}

export function Stat({ label, value, sub, id }) {
  return html`<div class="stat"><div class="label">${label}</div>
    <div class="value" data-testid=${id}>${value}</div>${sub && html`<div class="sub">${sub}</div>`}</div>`;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">${error.message || String(error)}</div>`;
}

const STATE_TONES = {
  active: "ok", half_open: "warn", cooling_down: "warn", rate_limited: "warn", ejected: "bad",
  invalid: "bad", no_quota: "bad", revoked: "bad", expired: "warn", ok: "ok",
};
export function Badge({ value, tone }) {
  const t = tone || STATE_TONES[value] || "";
  return html`<span class=${`badge ${t}`}>${String(value ?? "–").replaceAll("_", " ")}</span>`;
}

export function StatusBadge({ status }) {
  const tone = status >= 500 ? "bad" : status >= 400 ? "warn" : "ok";
  return html`<span class=${`badge ${tone}`}>${status ?? "–"}</span>`;
}

// A budget's spend (warn from 80%, bad when spent), or a plain share with tone="share".
export function Progress({ share, tone: fixed }) {
  const tone = fixed || (share >= 1 ? "bad" : share >= 0.8 ? "warn" : "");
  return html`<div class=${`bar ${tone}`} title=${fmtPct(share)}><span class=${widthClass(share)}></span></div>`;
}

export function Segmented({ options, value, onChange, label }) {
  return html`<div class="seg" role="group" aria-label=${label}>
    ${options.map(([v, text]) => html`<button type="button" class=${v === value ? "on" : ""}
      aria-pressed=${v === value} onClick=${() => onChange(v)}>${text}</button>`)}
  </div>`;
}

export function Modal({ title, onClose, children }) {
  useEffect(() => {
    const esc = (e) => { if (e.key === "Escape") onClose(); };
    window.addEventListener("keydown", esc);
    return () => window.removeEventListener("keydown", esc);
  }, [onClose]);
  return html`<div class="overlay" onClick=${(e) => { if (e.target === e.currentTarget) onClose(); }}>
    <div class="dialog" role="dialog" aria-modal="true" aria-label=${title}>
      <div class="row"><h3>${title}</h3><span class="spacer"></span>
        <button class="link" onClick=${onClose} aria-label="Close">Close</button></div>
      ${children}
    </div></div>`;
}

// A text cell a spreadsheet would run as a formula (it starts with = + - @, a tab or a CR,
// after any "'"s) gets a leading "'": group names such as a model a client asked for are
// chosen by clients (CSV injection). Numbers are left as they are.
const FORMULA = /^'*[=+\-@\t\r]/;

export function downloadCsv(name, rows) {
  const cell = (v) => {
    let s = v === null || v === undefined ? "" : String(v);
    if (typeof v === "string" && FORMULA.test(s)) s = `'${s}`;
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const text = rows.map((r) => r.map(cell).join(",")).join("\n") + "\n";
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// -- charts (Chart.js, loaded as a classic script before the modules) ------------------------
export const PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2",
  "#db2777", "#65a30d", "#ea580c", "#4f46e5", "#0d9488", "#9333ea"];
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export function ChartBox({ type = "line", labels, datasets, stacked = false, yFormat, tall, id }) {
  const canvas = useRef(null);
  const chart = useRef(null);
  useEffect(() => {
    const text = css("--muted");
    const grid = css("--border");
    chart.current = new window.Chart(canvas.current, {
      type,
      data: { labels: [], datasets: [] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { labels: { color: text, boxWidth: 12, usePointStyle: true } },
          tooltip: {
            callbacks: yFormat ? { label: (c) => `${c.dataset.label}: ${yFormat(c.parsed.y)}` } : {},
          },
        },
        scales: {
          x: { stacked, ticks: { color: text, maxRotation: 0, autoSkipPadding: 12 }, grid: { color: grid } },
          y: {
            stacked, beginAtZero: true, grid: { color: grid },
            ticks: { color: text, callback: yFormat ? (v) => yFormat(v) : undefined },
          },
        },
        elements: { point: { radius: 1.5, hitRadius: 6 }, line: { tension: 0.25, borderWidth: 2 } },
      },
    });
    return () => chart.current.destroy();
  }, [type, stacked]);
  useEffect(() => {
    const c = chart.current;
    c.data.labels = labels;
    c.data.datasets = datasets.map((d, i) => ({
      backgroundColor: d.color || PALETTE[i % PALETTE.length],
      borderColor: d.color || PALETTE[i % PALETTE.length],
      spanGaps: true,
      ...d,
    }));
    c.update("none");
  }, [labels, datasets]);
  return html`<div class=${tall ? "chart tall" : "chart"} data-testid=${id}><canvas ref=${canvas}></canvas></div>`;
}
