// Keys and teams: /admin/keys and /admin/teams. Create, rotate and revoke keys (a new secret
// is shown once), create and delete teams, limits and budgets with their spend.
import { useEffect, useState } from "preact/hooks";
import {
  Badge, Card, ErrorBox, Modal, Progress, api, fmtInt, fmtTime, fmtUsd, html, useApi,
} from "../lib.js";

function limits(r) {
  const parts = [];
  if (r.rpm) parts.push(`${fmtInt(r.rpm)} rpm`);
  if (r.tpm) parts.push(`${fmtInt(r.tpm)} tpm`);
  if (r.max_parallel) parts.push(`${fmtInt(r.max_parallel)} parallel`);
  return parts.join(" · ") || "–";
}

function Budget({ record, spend }) {
  if (record.budget === null || record.budget === undefined) return html`<span class="muted">–</span>`;
  const spent = spend && typeof spend.spent === "number" ? spend.spent : null;
  return html`<div data-testid="budget">
    ${spent !== null && html`<${Progress} share=${record.budget ? spent / record.budget : 1} />`}
    <span class="small">${spent === null ? "" : `${fmtUsd(spent)} of `}${fmtUsd(record.budget)} / ${record.budget_period}</span>
  </div>`;
}

// Spend comes with each key's and team's own GET (only for those with a budget).
function useSpend(records, path) {
  const [spend, setSpend] = useState({});
  useEffect(() => {
    let live = true;
    const withBudget = (records || []).filter((r) => r.budget !== null && r.budget !== undefined);
    Promise.all(withBudget.map((r) => api("GET", path(r)).then((d) => [r.id ?? r.name, d.spend], () => null)))
      .then((pairs) => { if (live) setSpend(Object.fromEntries(pairs.filter(Boolean))); });
    return () => { live = false; };
  }, [records]);
  return spend;
}

function numberOrNull(v) { return v === "" || v === undefined ? null : Number(v); }

function KeyForm({ teams, onCreated, disabled }) {
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = Object.fromEntries(new FormData(form).entries());
    const body = {
      name: f.name || null,
      team: f.team || null,
      scopes: f.scope ? [f.scope] : [],
      models: f.models ? f.models.split(",").map((s) => s.trim()).filter(Boolean) : [],
      rpm: numberOrNull(f.rpm),
      tpm: numberOrNull(f.tpm),
      max_parallel: numberOrNull(f.max_parallel),
      budget: numberOrNull(f.budget),
      budget_period: f.budget ? f.budget_period : null,
      expires_in: f.expires_in || null,
    };
    try {
      const created = await api("POST", "/admin/keys", body);
      form.reset();
      setError(null);
      onCreated(created);
    } catch (err) {
      setError(err);
    }
  }
  return html`<form class="form" onSubmit=${submit} data-testid="key-form">
    <label class="field">Name<input name="name" placeholder="search-backend" /></label>
    <label class="field">Team<select name="team"><option value="">none</option>
      ${teams.map((t) => html`<option value=${t.name}>${t.name}</option>`)}</select></label>
    <label class="field">Admin scope<select name="scope" data-testid="key-scope"><option value="">none (model calls)</option>
      <option value="viewer">viewer (read-only)</option><option value="admin">admin</option></select></label>
    <label class="field">Models<input name="models" placeholder="all, or gpt-*, claude-*" /></label>
    <label class="field">Requests / min<input name="rpm" type="number" min="1" /></label>
    <label class="field">Tokens / min<input name="tpm" type="number" min="1" /></label>
    <label class="field">In flight<input name="max_parallel" type="number" min="1" /></label>
    <label class="field">Budget (USD)<input name="budget" type="number" min="0" step="any" /></label>
    <label class="field">Per<select name="budget_period"><option value="month">month</option><option value="week">week</option><option value="day">day</option></select></label>
    <label class="field">Expires in<input name="expires_in" placeholder="never, or 90d" /></label>
    <div class="row"><button class="primary" type="submit" disabled=${disabled} data-testid="key-create">Create key</button></div>
    ${error && html`<div class="wide"><${ErrorBox} error=${error} /></div>`}
  </form>`;
}

function TeamForm({ onCreated, disabled }) {
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = Object.fromEntries(new FormData(form).entries());
    try {
      await api("POST", "/admin/teams", {
        name: f.name,
        models: f.models ? f.models.split(",").map((s) => s.trim()).filter(Boolean) : [],
        rpm: numberOrNull(f.rpm),
        budget: numberOrNull(f.budget),
        budget_period: f.budget ? f.budget_period : null,
      });
      form.reset();
      setError(null);
      onCreated();
    } catch (err) {
      setError(err);
    }
  }
  return html`<form class="form" onSubmit=${submit} data-testid="team-form">
    <label class="field">Name<input name="name" required placeholder="search" /></label>
    <label class="field">Models<input name="models" placeholder="all, or gpt-*" /></label>
    <label class="field">Requests / min<input name="rpm" type="number" min="1" /></label>
    <label class="field">Budget (USD)<input name="budget" type="number" min="0" step="any" /></label>
    <label class="field">Per<select name="budget_period"><option value="month">month</option><option value="week">week</option><option value="day">day</option></select></label>
    <div class="row"><button class="primary" type="submit" disabled=${disabled} data-testid="team-create">Create team</button></div>
    ${error && html`<div class="wide"><${ErrorBox} error=${error} /></div>`}
  </form>`;
}

function Secret({ created, onClose }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try { await navigator.clipboard.writeText(created.key); setCopied(true); } catch { setCopied(false); }
  }
  return html`<${Modal} title="Copy the new key now" onClose=${onClose}>
    <p>This is the only time the key is shown: only its hash is stored.</p>
    <div class="secret" data-testid="new-key">${created.key}</div>
    <div class="row end"><button onClick=${copy}>${copied ? "Copied" : "Copy"}</button>
      <button class="primary" onClick=${onClose} data-testid="new-key-done">Done</button></div>
  <//>`;
}

export default function Keys({ readOnly }) {
  const [showRevoked, setShowRevoked] = useState(false);
  const keys = useApi(`/admin/keys?include_revoked=${showRevoked}`);
  const teams = useApi("/admin/teams");
  const keySpend = useSpend(keys.data?.keys, (k) => `/admin/keys/${k.id}`);
  const teamSpend = useSpend(teams.data?.teams, (t) => `/admin/teams/${encodeURIComponent(t.name)}`);
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  async function act(method, path, confirmText, after) {
    if (confirmText && !window.confirm(confirmText)) return;
    try {
      const result = await api(method, path);
      setError(null);
      if (after) after(result);
      keys.reload();
      teams.reload();
    } catch (err) {
      setError(err);
    }
  }
  const teamList = teams.data?.teams || [];
  return html`
    <${ErrorBox} error=${error || keys.error || teams.error} />
    <${Card} title="Keys" actions=${html`<label class="check"><input type="checkbox" checked=${showRevoked}
        onChange=${(e) => setShowRevoked(e.currentTarget.checked)} />show revoked</label>`}>
      <div class="table-wrap"><table data-testid="keys-table">
        <thead><tr><th>Name</th><th>Key</th><th>Team</th><th>Scope</th><th>Models</th><th>Limits</th>
          <th>Budget</th><th>Expires</th><th>Status</th><th></th></tr></thead>
        <tbody>${(keys.data?.keys || []).map((k) => html`<tr data-key-id=${k.id}>
          <td>${k.name || html`<span class="muted">–</span>`}</td><td class="mono">${k.prefix}…</td>
          <td>${k.team || "–"}</td><td>${k.scopes?.length ? k.scopes.map((s) => html`<${Badge} value=${s} tone="info" />`) : "–"}</td>
          <td>${k.models.length ? k.models.join(", ") : "all"}</td><td>${limits(k)}</td>
          <td><${Budget} record=${k} spend=${keySpend[k.id]} /></td>
          <td>${k.expires_at ? fmtTime(k.expires_at) : "never"}</td><td><${Badge} value=${k.status} /></td>
          <td>${k.status !== "revoked" && html`<div class="row">
            <button class="link" disabled=${readOnly} data-testid="key-rotate"
              onClick=${() => act("POST", `/admin/keys/${k.id}/rotate`, `Rotate ${k.name || k.id}? The current secret stops working.`, setCreated)}>Rotate</button>
            <button class="link danger" disabled=${readOnly} data-testid="key-revoke"
              onClick=${() => act("POST", `/admin/keys/${k.id}/revoke`, `Revoke ${k.name || k.id}? It stops working everywhere within a second.`)}>Revoke</button></div>`}</td>
        </tr>`)}
        ${keys.data && !keys.data.keys.length && html`<tr><td class="empty" colspan="10">No keys yet.</td></tr>`}</tbody>
      </table></div>
    <//>
    <${Card} title="New key"><${KeyForm} teams=${teamList} disabled=${readOnly} onCreated=${(k) => { setCreated(k); keys.reload(); }} /><//>
    <${Card} title="Teams">
      <div class="table-wrap"><table data-testid="teams-table">
        <thead><tr><th>Name</th><th>Models</th><th>Limits</th><th>Budget</th><th>Created</th><th></th></tr></thead>
        <tbody>${teamList.map((t) => html`<tr data-team=${t.name}>
          <td>${t.name}</td><td>${t.models.length ? t.models.join(", ") : "all"}</td><td>${limits(t)}</td>
          <td><${Budget} record=${t} spend=${teamSpend[t.name]} /></td><td>${fmtTime(t.created_at)}</td>
          <td><button class="link danger" disabled=${readOnly}
            onClick=${() => act("DELETE", `/admin/teams/${encodeURIComponent(t.name)}?revoke_keys=true`, `Delete team ${t.name} and revoke its keys?`)}>Delete</button></td>
        </tr>`)}
        ${teams.data && !teamList.length && html`<tr><td class="empty" colspan="6">No teams yet.</td></tr>`}</tbody>
      </table></div>
    <//>
    <${Card} title="New team"><${TeamForm} disabled=${readOnly} onCreated=${() => teams.reload()} /><//>
    ${created && html`<${Secret} created=${created} onClose=${() => setCreated(null)} />`}
  `;
}
