// Agents: the A2A agents behind /a2a (GET /admin/agents): where each came from, its card's
// state, who may call it and its limits; add one live (PUT), refresh its card, remove one
// added here (docs/a2a.md). Their calls are in the request log under protocol "a2a".
import { useState } from "preact/hooks";
import { Badge, Card, ErrorBox, api, fmtInt, html, useApi } from "../lib.js";

const BLANK = { name: "", url: "", token: "", teams: "", keys: "", agent_rpm: "", max_messages_per_task: "" };

function list(text) {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

function AddAgent({ onAdded }) {
  const [draft, setDraft] = useState(BLANK);
  const [failure, setFailure] = useState(null);
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.currentTarget.value });
  async function submit(e) {
    e.preventDefault();
    const body = { url: draft.url.trim() };
    if (draft.token) body.auth = { type: "bearer", token: draft.token };
    if (draft.teams) body.teams = list(draft.teams);
    if (draft.keys) body.keys = list(draft.keys);
    if (draft.agent_rpm) body.agent_rpm = Number(draft.agent_rpm);
    if (draft.max_messages_per_task) body.max_messages_per_task = Number(draft.max_messages_per_task);
    try {
      await api("PUT", `/admin/agents/${encodeURIComponent(draft.name.trim())}`, body);
      setDraft(BLANK); // the token is not kept in the page
      setFailure(null);
      onAdded();
    } catch (err) {
      setFailure(err);
    }
  }
  return html`<${Card} title="Add an agent" hint="checked by the outbound policy; lives in this process until restart">
    <form class="form" onSubmit=${submit} autocomplete="off" data-testid="agent-add">
      <label class="field">Name<input value=${draft.name} onInput=${set("name")} name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}" /></label>
      <label class="field">Base URL<input value=${draft.url} onInput=${set("url")} name="url" required placeholder="https://agent.example.com" /></label>
      <label class="field">Bearer token to the agent<input value=${draft.token} onInput=${set("token")} name="token" type="password" placeholder="none" autocomplete="off" /></label>
      <label class="field">Teams<input value=${draft.teams} onInput=${set("teams")} name="teams" placeholder="any (comma-separated)" /></label>
      <label class="field">Key ids<input value=${draft.keys} onInput=${set("keys")} name="keys" placeholder="any (comma-separated)" /></label>
      <label class="field">Calls/min per key<input value=${draft.agent_rpm} onInput=${set("agent_rpm")} name="agent_rpm" inputmode="numeric" placeholder="unlimited" /></label>
      <label class="field">Messages per task<input value=${draft.max_messages_per_task} onInput=${set("max_messages_per_task")} name="max_messages_per_task" inputmode="numeric" placeholder="unlimited" /></label>
      <div class="row"><button class="primary" type="submit" data-testid="agent-add-submit">Add</button></div>
    </form>
    <${ErrorBox} error=${failure} />
  <//>`;
}

function who(a) {
  const parts = [];
  if (a.keys.length) parts.push(`keys ${a.keys.join(", ")}`);
  if (a.teams.length) parts.push(`teams ${a.teams.join(", ")}`);
  return parts.length ? parts.join("; ") : "any key";
}

function limits(a) {
  const parts = [];
  if (a.agent_rpm) parts.push(`${fmtInt(a.agent_rpm)}/min per key`);
  if (a.team_rpm) parts.push(`${fmtInt(a.team_rpm)}/min per team`);
  if (a.max_messages_per_task) parts.push(`${fmtInt(a.max_messages_per_task)} messages per task`);
  return parts.length ? parts.join(", ") : "none";
}

export default function Agents({ readOnly }) {
  const { data, error, reload } = useApi("/admin/agents", 10000);
  const [failure, setFailure] = useState(null);
  async function act(method, path) {
    try {
      await api(method, path);
      setFailure(null);
      reload();
    } catch (err) {
      setFailure(err);
    }
  }
  if (!data) return html`<${ErrorBox} error=${error} />`;
  return html`
    <${ErrorBox} error=${error || failure} />
    <${Card} title="A2A agents" hint="served at /a2a/{name}; calls are in the request log as protocol a2a">
      ${data.agents.length === 0
        ? html`<p data-testid="agents-none">No agent is configured (<code>agents:</code> in the config file, or add one below; docs/a2a.md).</p>`
        : html`<div class="table-wrap"><table data-testid="agents">
        <thead><tr><th>Agent</th><th>Source</th><th>Card</th><th>Who may call</th><th>Limits</th><th></th></tr></thead>
        <tbody>${data.agents.map((a) => html`<tr data-agent=${a.name}>
          <td><strong>${a.name}</strong><div class="muted small mono">${a.url}</div></td>
          <td><${Badge} value=${a.source} tone=${a.source === "config" ? "info" : ""} /></td>
          <td>${a.card.fetched
            ? html`<${Badge} value="fetched" tone="ok" /> <span class="muted small">${a.card.name}</span>`
            : a.card.error
              ? html`<${Badge} value="unavailable" tone="bad" /> <div class="muted small" data-testid="agent-card-error">${a.card.error}</div>`
              : html`<${Badge} value="not yet" tone="warn" />`}</td>
          <td>${who(a)}</td>
          <td>${limits(a)}</td>
          <td><div class="row">
            <button onClick=${() => act("POST", `/admin/agents/${encodeURIComponent(a.name)}/refresh`)} disabled=${readOnly}
              data-testid="agent-refresh">Refresh card</button>
            ${a.source === "admin" && html`<button class="danger" disabled=${readOnly} data-testid="agent-remove"
              onClick=${() => window.confirm(`Remove the agent ${a.name}?`) && act("DELETE", `/admin/agents/${encodeURIComponent(a.name)}`)}>Remove</button>`}
          </div></td></tr>`)}</tbody></table></div>`}
    <//>
    ${!readOnly && html`<${AddAgent} onAdded=${reload} />`}
  `;
}
