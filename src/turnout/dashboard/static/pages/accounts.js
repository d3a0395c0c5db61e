// Accounts: provider accounts signed in with OAuth (GET /admin/accounts, every 5 s): status,
// why an account is invalid, when its token expires. Admins sign one in with the device flow
// (POST /admin/accounts, then the code is entered at the provider) and remove accounts.
import { useEffect, useState } from "preact/hooks";
import { Badge, Card, ErrorBox, api, fmtIn, html, safeHref, useApi } from "../lib.js";

// The provider's verification page: a link only when it is a web page (safeHref), else text.
function verificationLink(login) {
  const href = safeHref(login.verification_uri_complete) || safeHref(login.verification_uri);
  if (!href) return html`<span class="mono" data-testid="account-uri">${login.verification_uri}</span>`;
  return html`<a href=${href} target="_blank" rel="noopener noreferrer" data-testid="account-uri">${login.verification_uri}</a>`;
}

function SignInAccount({ providers, readOnly, onDone }) {
  const usable = providers.filter((p) => p.device_flow);
  const [provider, setProvider] = useState(usable[0]?.name || "");
  const [name, setName] = useState("");
  const [login, setLogin] = useState(null);
  const [failure, setFailure] = useState(null);
  useEffect(() => {
    if (!login || login.status !== "pending") return undefined;
    const timer = setInterval(async () => {
      try {
        const now = await api("GET", `/admin/accounts/logins/${login.id}`);
        if (now.status !== "pending") { setLogin({ ...login, ...now }); onDone(); }
      } catch (err) { setFailure(err); }
    }, 1000);
    return () => clearInterval(timer);
  }, [login]);
  async function start(e) {
    e.preventDefault();
    setFailure(null);
    try {
      setLogin(await api("POST", "/admin/accounts", { provider, name: name || null }));
    } catch (err) { setFailure(err); }
  }
  if (!usable.length) {
    return html`<p class="muted">No provider profile has a <code>device_authorization_url</code>: sign accounts in with <code>turnout accounts login PROVIDER --browser</code>.</p>`;
  }
  return html`
    <form class="row" onSubmit=${start}>
      <select value=${provider} onChange=${(e) => setProvider(e.currentTarget.value)} aria-label="Provider" data-testid="account-provider">
        ${usable.map((p) => html`<option value=${p.name}>${p.name}</option>`)}</select>
      <input placeholder="name (optional)" value=${name} onInput=${(e) => setName(e.currentTarget.value)} data-testid="account-name" />
      <button class="primary" type="submit" disabled=${readOnly || (login && login.status === "pending")} data-testid="account-start">Sign an account in</button>
    </form>
    ${login && login.status === "pending" && html`<div class="notice" data-testid="account-code">
      Open ${verificationLink(login)}
      and enter the code <strong class="mono" data-testid="account-user-code">${login.user_code}</strong>. Waiting for the approval…</div>`}
    ${login && login.status === "done" && html`<div class="ok-box" data-testid="account-done">Signed in: ${login.account}</div>`}
    ${login && login.status === "failed" && html`<div class="error" data-testid="account-failed">Sign-in failed: ${login.error}</div>`}
    <${ErrorBox} error=${failure} />`;
}

export default function Accounts({ readOnly }) {
  const { data, error, reload } = useApi("/admin/accounts", 5000);
  const [failure, setFailure] = useState(null);
  if (!data) return html`<${ErrorBox} error=${error} />`;
  if (!data.enabled) {
    return html`<${Card} title="OAuth accounts"><p data-testid="accounts-off">No provider signs in with OAuth
      (<code>auth: oauth</code> on a provider, docs/oauth.md).</p><//>`;
  }
  async function remove(account) {
    if (!window.confirm(`Remove the account ${account.name || account.id}? Every gateway stops using it.`)) return;
    try { await api("DELETE", `/admin/accounts/${account.id}`); setFailure(null); reload(); } catch (err) { setFailure(err); }
  }
  return html`
    <${ErrorBox} error=${error || failure} />
    <${Card} title="OAuth accounts" hint="each account is one key of its provider's pool; tokens are refreshed before they expire">
      <div class="table-wrap"><table data-testid="accounts">
        <thead><tr><th>Account</th><th>Name</th><th>Provider</th><th>Status</th><th>Reason</th>
          <th>Token expires</th><th>Key</th><th></th></tr></thead>
        <tbody>${data.accounts.map((a) => html`<tr data-account=${a.id}>
          <td class="mono">${a.id}</td><td>${a.name || "–"}</td><td>${a.provider}</td>
          <td><${Badge} value=${a.status} /></td><td>${a.reason || a.key_reason || "–"}</td>
          <td>${a.expires_in === null ? "–" : fmtIn(a.expires_in)}</td>
          <td>${a.key_state ? html`<${Badge} value=${a.key_state} />` : "–"}</td>
          <td><button class="link danger" disabled=${readOnly} onClick=${() => remove(a)} data-testid="account-remove">Remove</button></td>
        </tr>`)}</tbody>
      </table></div>
      ${!data.accounts.length && html`<p class="muted" data-testid="accounts-empty">No account yet.</p>`}
    <//>
    <${Card} title="Sign an account in" hint="device flow: enter the code at the provider, from any device">
      <${SignInAccount} providers=${data.providers} readOnly=${readOnly} onDone=${reload} />
    <//>`;
}
