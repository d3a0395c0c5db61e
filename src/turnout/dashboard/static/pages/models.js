// Models and providers: the routing table from GET /admin/config (strategy, priority tiers,
// weights), and models and providers created, changed and deleted through the
// live-configuration API (/admin/models, /admin/providers). Entries the config file defines
// are changed only in the file; the API says which is which ("source").
import { useState } from "preact/hooks";
import { Badge, Card, ErrorBox, Progress, api, fmtNum, html, useApi } from "../lib.js";

const STRATEGIES = ["priority", "weighted", "round-robin", "least-busy", "latency", "cost", "sticky"];
const TYPES = ["openai", "openai-compatible", "anthropic", "gemini", "mock"];

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

// A failed write: validation problems (422, every one listed) or a plain message.
function Problems({ error }) {
  const problems = error?.data?.detail?.problems;
  if (!problems) return html`<${ErrorBox} error=${error} />`;
  return html`<div class="error" role="alert" data-testid="problems">
    <div>${error.data.detail.message || "Invalid configuration"}</div>
    <ul>${problems.map((p) => html`<li>${p}</li>`)}</ul></div>`;
}

const emptyDeployment = () => ({ provider: "", model: "", priority: 0, weight: 1 });

function ModelForm({ providers, initial, onDone, onCancel }) {
  const editing = Boolean(initial);
  const [name, setName] = useState(initial?.name || "");
  const [strategy, setStrategy] = useState(initial?.strategy || "priority");
  const [rows, setRows] = useState(initial?.deployments?.length ? initial.deployments.map((d) => ({ ...d })) : [emptyDeployment()]);
  const [error, setError] = useState(null);
  const set = (i, field) => (e) => {
    const next = rows.map((r) => ({ ...r }));
    const v = e.currentTarget.value;
    next[i][field] = field === "priority" || field === "weight" ? (v === "" ? "" : Number(v)) : v;
    setRows(next);
  };
  async function submit(e) {
    e.preventDefault();
    const deployments = rows.map((r) => {
      const d = { provider: r.provider };
      if (r.model) d.model = r.model;
      if (r.priority !== "" && r.priority !== undefined) d.priority = r.priority;
      if (r.weight !== "" && r.weight !== undefined) d.weight = r.weight;
      return d;
    });
    const body = { strategy, deployments };
    try {
      if (editing) await api("PUT", `/admin/models/${encodeURIComponent(initial.name)}`, body);
      else await api("POST", "/admin/models", { name, ...body });
      setError(null);
      onDone();
    } catch (err) {
      setError(err);
    }
  }
  return html`<form onSubmit=${submit} data-testid="model-form">
    <div class="form">
      <label class="field">Name<input name="name" value=${name} onInput=${(e) => setName(e.currentTarget.value)}
        disabled=${editing} required placeholder="gpt-4o or claude-*" /></label>
      <label class="field">Strategy<select name="strategy" value=${strategy} onChange=${(e) => setStrategy(e.currentTarget.value)}>
        ${STRATEGIES.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
    </div>
    <h3 class="small muted">Deployments</h3>
    ${rows.map((r, i) => html`<div class="form" data-testid="deployment-row">
      <label class="field">Provider<select name="provider" value=${r.provider} onChange=${set(i, "provider")} required>
        <option value="">choose…</option>${providers.map((p) => html`<option value=${p}>${p}</option>`)}</select></label>
      <label class="field">Upstream model<input name="model" value=${r.model || ""} onInput=${set(i, "model")} placeholder="the requested name" /></label>
      <label class="field">Priority (tier)<input name="priority" type="number" min="0" value=${r.priority ?? 0} onInput=${set(i, "priority")} /></label>
      <label class="field">Weight<input name="weight" type="number" min="0" step="any" value=${r.weight ?? 1} onInput=${set(i, "weight")} /></label>
      <div class="row"><button type="button" class="link danger" disabled=${rows.length < 2}
        onClick=${() => setRows(rows.filter((_, j) => j !== i))}>Remove</button></div>
    </div>`)}
    <div class="row">
      <button type="button" onClick=${() => setRows([...rows, emptyDeployment()])}>Add deployment</button>
      <span class="spacer"></span>
      ${onCancel && html`<button type="button" onClick=${onCancel}>Cancel</button>`}
      <button class="primary" type="submit" data-testid="model-save">${editing ? "Save model" : "Create model"}</button>
    </div>
    <${Problems} error=${error} />
  </form>`;
}

function ProviderForm({ onDone }) {
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = Object.fromEntries(new FormData(form).entries());
    const body = { name: f.name, type: f.type };
    if (f.base_url) body.base_url = f.base_url;
    const keys = (f.api_keys || "").split("\n").map((k) => k.trim()).filter(Boolean);
    if (keys.length) body.api_keys = keys;
    try {
      await api("POST", "/admin/providers", body);
      form.reset();
      setError(null);
      onDone();
    } catch (err) {
      setError(err);
    }
  }
  return html`<form class="form" onSubmit=${submit} data-testid="provider-form" autocomplete="off">
    <label class="field">Name<input name="name" required placeholder="openai-eu" /></label>
    <label class="field">Type<select name="type">${TYPES.map((t) => html`<option value=${t}>${t}</option>`)}</select></label>
    <label class="field wide">Base URL<input name="base_url" placeholder="https://api.openai.com/v1" /></label>
    <label class="field wide">API keys, one a line (stored sealed, shown masked)<textarea name="api_keys" rows="2" spellcheck="false"></textarea></label>
    <div class="row"><button class="primary" type="submit" data-testid="provider-save">Create provider</button></div>
    <div class="wide"><${Problems} error=${error} /></div>
  </form>`;
}

export default function Models({ readOnly }) {
  const config = useApi("/admin/config");
  // The live-configuration API is asked for only where the admin API documents it; without
  // it the page shows the routing table only.
  const spec = useApi("/openapi.json");
  const live = Boolean(spec.data?.paths?.["/admin/models"]);
  const managedModels = useApi(live ? "/admin/models" : null);
  const managedProviders = useApi(live ? "/admin/providers" : null);
  const [editing, setEditing] = useState(null);
  const [error, setError] = useState(null);
  const source = {};
  for (const m of managedModels.data?.models || []) source[m.name] = m.source;
  const providerSource = {};
  for (const p of managedProviders.data?.providers || []) providerSource[p.name] = p.source;
  function reload() {
    config.reload();
    if (live) {
      managedModels.reload();
      managedProviders.reload();
    }
  }
  async function edit(name) {
    try {
      setEditing(await api("GET", `/admin/models/${encodeURIComponent(name)}`));
    } catch (err) {
      setError(err);
    }
  }
  async function remove(kind, name) {
    if (!window.confirm(`Delete ${kind.slice(0, -1)} ${name}? Every replica stops serving it within seconds.`)) return;
    try {
      await api("DELETE", `/admin/${kind}/${encodeURIComponent(name)}`);
      setError(null);
      reload();
    } catch (err) {
      setError(err);
    }
  }
  if (!config.data) return html`<${ErrorBox} error=${config.error} />`;
  const providers = Object.keys(config.data.providers);
  const canWrite = live && !readOnly;
  return html`
    <${Problems} error=${error} />
    <${Card} title="Models" hint="lower tiers first; weights split traffic inside a tier">
      <div class="table-wrap"><table data-testid="models-table">
        <thead><tr><th>Model</th><th>Strategy</th><th>Deployments</th><th>Defined in</th><th></th></tr></thead>
        <tbody>${Object.entries(config.data.models).map(([name, m]) => html`<tr data-model=${name}>
          <td>${name}</td><td><${Badge} value=${m.strategy} tone="info" /></td><td><${Tiers} deployments=${m.deployments} /></td>
          <td>${source[name] ? html`<${Badge} value=${source[name]} />` : "–"}</td>
          <td>${source[name] === "database" && html`<div class="row">
            <button class="link" disabled=${!canWrite} onClick=${() => edit(name)} data-testid="model-edit">Edit</button>
            <button class="link danger" disabled=${!canWrite} onClick=${() => remove("models", name)} data-testid="model-delete">Delete</button></div>`}</td>
        </tr>`)}</tbody></table></div>
    <//>
    ${live && html`<${Card} title=${editing ? `Edit ${editing.name}` : "New model"}
        hint="validated with the whole configuration before anything changes; served at once">
      ${readOnly ? html`<p class="muted">Read-only.</p>` : html`<${ModelForm} key=${editing?.name || "new"} providers=${providers}
        initial=${editing} onCancel=${editing ? () => setEditing(null) : null}
        onDone=${() => { setEditing(null); reload(); }} />`}
    <//>`}
    <${Card} title="Providers">
      <div class="table-wrap"><table data-testid="providers-table">
        <thead><tr><th>Name</th><th>Type</th><th>Base URL</th><th>Keys</th><th>Defined in</th><th></th></tr></thead>
        <tbody>${Object.entries(config.data.providers).map(([name, p]) => html`<tr data-provider=${name}>
          <td>${name}</td><td>${p.type}</td><td class="mono small">${p.base_url || "–"}</td>
          <td class="mono small">${p.api_keys.join(", ") || "–"}</td>
          <td>${providerSource[name] ? html`<${Badge} value=${providerSource[name]} />` : "–"}</td>
          <td>${providerSource[name] === "database" && html`<button class="link danger" disabled=${!canWrite}
            onClick=${() => remove("providers", name)} data-testid="provider-delete">Delete</button>`}</td></tr>`)}</tbody></table></div>
    <//>
    ${live && !readOnly && html`<${Card} title="New provider"><${ProviderForm} onDone=${reload} /><//>`}
    ${spec.data && !live && html`<p class="muted small" data-testid="no-live-api">This gateway has no live-configuration API: models and providers change in its config file.</p>`}
  `;
}
