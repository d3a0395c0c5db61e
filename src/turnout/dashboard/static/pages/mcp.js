// MCP: the upstream tool servers (GET /admin/mcp/servers), their tools as /mcp names them
// (GET /admin/mcp/tools) and tool calls since start (GET /admin/mcp/usage). docs/mcp.md.
import { Badge, Card, ErrorBox, fmtAgo, fmtBytes, fmtInt, fmtMs, html, useApi } from "../lib.js";

const TONES = { up: "ok", connecting: "warn", down: "bad", stopped: "" };

function Servers({ rows }) {
  if (!rows.length) {
    return html`<p data-testid="mcp-none">No MCP server is configured (<code>mcp_servers:</code>, or
      <code>POST /admin/mcp/servers</code>; docs/mcp.md).</p>`;
  }
  return html`<table data-testid="mcp-servers">
    <thead><tr><th>Server</th><th>State</th><th>Transport</th><th>Endpoint</th><th>Tools</th>
      <th>Prompts</th><th>Resources</th><th>Since</th><th>Source</th></tr></thead>
    <tbody>${rows.map((s) => html`<tr data-server=${s.name}>
      <td>${s.name}</td>
      <td><${Badge} value=${s.state} tone=${TONES[s.state]} />${s.error && html`<div class="small muted">${s.error}</div>`}</td>
      <td>${s.transport}</td><td class="mono small">${s.endpoint || "–"}</td>
      <td data-col="tools">${fmtInt(s.tools)}</td><td>${fmtInt(s.prompts)}</td>
      <td>${fmtInt(s.resources + s.resource_templates)}</td>
      <td>${fmtAgo(s.since)}</td><td>${s.source}</td></tr>`)}</tbody></table>`;
}

function Usage({ rows }) {
  if (!rows.length) return html`<p class="muted" data-testid="mcp-usage-none">No tool call yet.</p>`;
  return html`<table data-testid="mcp-usage">
    <thead><tr><th>Tool</th><th>Calls</th><th>Errors</th><th>Avg latency</th><th>In</th>
      <th>Out</th><th>Last error</th></tr></thead>
    <tbody>${rows.map((u) => html`<tr data-tool=${`${u.server}__${u.tool}`}>
      <td class="mono">${u.server}__${u.tool}</td><td data-col="calls">${fmtInt(u.calls)}</td>
      <td>${fmtInt(u.errors)}</td><td>${fmtMs(u.avg_latency_ms)}</td>
      <td>${fmtBytes(u.bytes_in)}</td><td>${fmtBytes(u.bytes_out)}</td>
      <td class="small">${u.last_error || ""}</td></tr>`)}</tbody></table>`;
}

function Tools({ rows }) {
  if (!rows.length) return html`<p class="muted">No tool is listed.</p>`;
  return html`<table class="small" data-testid="mcp-tools">
    <thead><tr><th>Name at /mcp</th><th>Server</th><th>Description</th></tr></thead>
    <tbody>${rows.map((t) => html`<tr data-tool=${t.name}><td class="mono">${t.name}</td>
      <td>${t.server}</td><td>${t.description || ""}</td></tr>`)}</tbody></table>`;
}

export default function Mcp() {
  const servers = useApi("/admin/mcp/servers", 5000);
  const usage = useApi("/admin/mcp/usage", 5000);
  const tools = useApi("/admin/mcp/tools", 15000);
  return html`
    <${ErrorBox} error=${servers.error || usage.error || tools.error} />
    <${Card} title="Servers" hint="the gateway serves them at /mcp and /mcp/{server}">
      ${servers.data && html`<${Servers} rows=${servers.data.servers} />`}
    <//>
    <${Card} title="Tool calls" hint="this process, since start; every call is also in the request log (protocol mcp)">
      ${usage.data && html`<${Usage} rows=${usage.data.usage} />`}
    <//>
    <${Card} title="Tools">
      ${tools.data && html`<${Tools} rows=${tools.data.tools} />`}
    <//>`;
}
