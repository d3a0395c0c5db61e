// The dashboard's shell: sign-in, navigation, theme. Pages live in pages/*.js; adding one is
// a module exporting a component and one entry in PAGES (docs/dashboard.md, "Adding a page").
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, html, setCsrf, setUnauthorizedHandler } from "./lib.js";
import Overview from "./pages/overview.js";
import Usage from "./pages/usage.js";
import Logs from "./pages/logs.js";
import Health from "./pages/health.js";
import Keys from "./pages/keys.js";
import Models from "./pages/models.js";
import Cache from "./pages/cache.js";
import Routers from "./pages/routers.js";
import Accounts from "./pages/accounts.js";
import Mcp from "./pages/mcp.js";
import Agents from "./pages/agents.js";

export const PAGES = [
  { path: "overview", title: "Overview", component: Overview },
  { path: "usage", title: "Usage and cost", component: Usage },
  { path: "logs", title: "Request log", component: Logs },
  { path: "health", title: "Health", component: Health },
  { path: "keys", title: "Keys and teams", component: Keys },
  { path: "models", title: "Models and providers", component: Models },
  { path: "cache", title: "Cache", component: Cache },
  { path: "routers", title: "Routers", component: Routers },
  { path: "mcp", title: "MCP servers", component: Mcp },
  { path: "agents", title: "Agents", component: Agents },
  { path: "accounts", title: "OAuth accounts", component: Accounts },
];

function currentPath() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = raw.split("?");
  return { path: PAGES.some((p) => p.path === path) ? path : "overview", params: new URLSearchParams(search) };
}

function useRoute() {
  const [route, setRoute] = useState(currentPath);
  useEffect(() => {
    const on = () => setRoute(currentPath());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

// -- theme: the system's, or the one chosen with the toggle (kept in localStorage) ----------
function systemDark() { return window.matchMedia("(prefers-color-scheme: dark)").matches; }
function useTheme() {
  const [theme, setTheme] = useState(() => localStorage.getItem("turnout-theme") || (systemDark() ? "dark" : "light"));
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("turnout-theme", theme);
  }, [theme]);
  return [theme, () => setTheme(theme === "dark" ? "light" : "dark")];
}

// Single sign-on (auth.oidc): a link to the provider's sign-in, back to where the page was.
function useSso() {
  const [sso, setSso] = useState(null);
  useEffect(() => { api("GET", "/admin/oidc").then(setSso, () => setSso(null)); }, []);
  return sso && sso.enabled ? sso : null;
}

function SignIn({ onDone, reason }) {
  const [error, setError] = useState(reason || null);
  const [busy, setBusy] = useState(false);
  const sso = useSso();
  const back = encodeURIComponent(location.pathname + location.hash);
  async function submit(e) {
    e.preventDefault();
    const field = e.currentTarget.elements.key;
    const key = field.value;
    field.value = ""; // the key is sent once and not kept anywhere in the page
    setBusy(true);
    try {
      onDone(await api("POST", "/admin/session", { key }));
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<main class="signin"><div class="card">
    <h1><img src="icon.svg" alt="" />Turnout</h1>
    <div class="muted">Sign in with the master key or a key with an admin or viewer role.</div>
    <form onSubmit=${submit} autocomplete="off">
      <label class="field">Key<input name="key" type="password" required autofocus
        data-testid="signin-key" autocomplete="off" spellcheck="false" /></label>
      ${error && html`<div class="error" role="alert" data-testid="signin-error">${error}</div>`}
      <button class="primary" type="submit" disabled=${busy} data-testid="signin-submit">Sign in</button>
    </form>
    ${sso && html`<a class="button sso" href=${`${sso.login}?return_to=${back}`}
      data-testid="signin-sso">Sign in with single sign-on</a>`}
    </div></main>`;
}

function roleName(identity) {
  const teams = identity.teams || [];
  return teams.length ? `team admin (${teams.join(", ")})` : identity.role;
}

function Shell({ identity, onSignOut }) {
  const route = useRoute();
  const [theme, toggleTheme] = useTheme();
  const page = PAGES.find((p) => p.path === route.path);
  const Page = page.component;
  const readOnly = identity.role !== "admin";
  useEffect(() => { document.title = `${page.title} · Turnout`; }, [page]);
  return html`<div class="shell">
    <nav class="side" aria-label="Pages">
      <div class="brand"><img src="icon.svg" alt="" />Turnout</div>
      <div class="nav">${PAGES.map((p) => html`<a href=${`#/${p.path}`}
        class=${p.path === route.path ? "active" : ""} data-testid=${`nav-${p.path}`}>${p.title}</a>`)}</div>
    </nav>
    <div class="main">
      <header class="top">
        <h1>${page.title}</h1>
        <span class="role" data-testid="role">${identity.authentication ? `${identity.subject || "key"} · ${roleName(identity)}` : "authentication off"}</span>
        <button onClick=${toggleTheme} data-testid="theme" aria-label="Switch light or dark">${theme === "dark" ? "Light" : "Dark"}</button>
        ${identity.subject && html`<button onClick=${onSignOut} data-testid="signout">Sign out</button>`}
      </header>
      <main class="content" key=${theme}>
        ${!identity.authentication && html`<div class="notice">Authentication is off: anyone who can reach this port can use the gateway and this dashboard. Set a master key (docs/keys-and-limits.md).</div>`}
        ${readOnly && html`<div class="notice" data-testid="read-only">Read-only: you can look at everything but change nothing.</div>`}
        <${Page} params=${route.params} readOnly=${readOnly} identity=${identity} />
      </main>
    </div>
  </div>`;
}

function App() {
  const [identity, setIdentity] = useState(undefined);
  const [reason, setReason] = useState(null);
  function accept(who) {
    setCsrf(who.csrf_token);
    setIdentity(who);
  }
  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrf(null);
      setReason("Your session has ended: sign in again.");
      setIdentity(null);
    });
    api("GET", "/admin/session").then(accept, (err) => {
      if (!(err instanceof ApiError) || err.status !== 401) setReason(err.message);
      setIdentity(null);
    });
  }, []);
  async function signOut() {
    if ((identity.subject || "").startsWith("oidc:")) {
      location.assign("/admin/oidc/logout"); // ends the identity provider's session too
      return;
    }
    try { await api("DELETE", "/admin/session"); } catch { /* the cookie is cleared anyway */ }
    setCsrf(null);
    setReason(null);
    setIdentity(null);
  }
  if (identity === undefined) return html`<p class="boot">Loading…</p>`;
  if (identity === null) return html`<${SignIn} reason=${reason} onDone=${(who) => { setReason(null); accept(who); }} />`;
  return html`<${Shell} identity=${identity} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById("app"));
