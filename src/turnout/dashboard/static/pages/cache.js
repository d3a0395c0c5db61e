// Cache: hit rate, entries and bytes from GET /admin/cache/stats; purge with DELETE /admin/cache.
import { useState } from "preact/hooks";
import { Card, ErrorBox, Stat, api, fmtBytes, fmtInt, fmtPct, html, useApi } from "../lib.js";

export default function Cache({ readOnly }) {
  const { data, error, reload } = useApi("/admin/cache/stats", 5000);
  const config = useApi("/admin/config");
  const [model, setModel] = useState("");
  const [result, setResult] = useState(null);
  const [failure, setFailure] = useState(null);
  async function purge() {
    const what = model ? `the cached answers of ${model}` : "the whole cache";
    if (!window.confirm(`Purge ${what}?`)) return;
    try {
      const out = await api("DELETE", `/admin/cache${model ? `?model=${encodeURIComponent(model)}` : ""}`);
      setResult(`Purged ${fmtInt(out.deleted)} entries.`);
      setFailure(null);
      reload();
    } catch (err) {
      setFailure(err);
      setResult(null);
    }
  }
  if (!data) return html`<${ErrorBox} error=${error} />`;
  if (!data.enabled) {
    return html`<${Card} title="Cache"><p data-testid="cache-off">No model is cached: caching is opt-in per model
      (<code>cache: true</code> on a model, docs/caching.md).</p><//>`;
  }
  const models = Object.keys(config.data?.models || {});
  return html`
    <${ErrorBox} error=${error} />
    <div class="grid stats">
      <${Stat} id="cache-hit-rate" label="Hit rate" value=${fmtPct(data.hit_ratio)} sub="this process, since start" />
      <${Stat} id="cache-hits" label="Hits" value=${fmtInt(data.hits)} />
      <${Stat} id="cache-misses" label="Misses" value=${fmtInt(data.misses)} />
      <${Stat} id="cache-entries" label="Entries" value=${fmtInt(data.entries)} sub=${`${data.backend} backend`} />
      <${Stat} id="cache-bytes" label="Size" value=${fmtBytes(data.bytes)} />
      <${Stat} id="cache-stored" label="Stored" value=${fmtInt(data.stored)} sub=${`${fmtInt(data.evictions)} evicted`} />
    </div>
    ${!data.available && html`<div class="notice">The cache backend is unavailable: requests go to the providers uncached.</div>`}
    <${Card} title="Purge" hint="with Redis, a purge reaches every replica">
      <div class="row">
        <select value=${model} onChange=${(e) => setModel(e.currentTarget.value)} aria-label="Model" data-testid="cache-model">
          <option value="">every model</option>${models.map((m) => html`<option value=${m}>${m}</option>`)}</select>
        <button class="danger" onClick=${purge} disabled=${readOnly} data-testid="cache-purge">Purge</button>
      </div>
      ${result && html`<div class="ok-box" data-testid="cache-purged">${result}</div>`}
      <${ErrorBox} error=${failure} />
    <//>
    <${Card} title="Not stored" hint="answers the cache declined, by reason">
      <dl class="facts">${Object.entries(data.not_stored || {}).map(([k, v]) => html`<dt>${k}</dt><dd>${fmtInt(v)}</dd>`)}
        <dt>bypassed</dt><dd>${fmtInt(data.bypasses)}</dd><dt>refreshed</dt><dd>${fmtInt(data.refreshes)}</dd></dl>
    <//>
  `;
}
