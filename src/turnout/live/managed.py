"""How the file and the database make one config, and what an admin write must pass first.

**The merge rule: the config (file and command line) wins for every name it defines.** A
provider or model stored through the admin API joins the config only under a name the config
does not use; a stored entry whose name the file now defines is *shadowed*: kept in the
database, not served, and listed as such by ``GET /admin/config``. The admin API refuses to
create or change an entry under a name the file defines (409), so the rule only matters when
the file gains a name later.

Both paths are validated by the same validator, on the merged whole: an admin write is
checked as the config it would produce (unknown keys, dangling references, bad URLs, duplicate
names, every problem at once) and stored only if that config is valid; a destination written
through the admin API must also pass the outbound policy (``Origin.ADMIN``), and its
provider's connections are checked as admin-supplied ones for as long as it serves.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from turnout.config.compile import Runtime
from turnout.config.schema import TurnoutConfig
from turnout.config.validate import validate
from turnout.crypto import SecretBox
from turnout.live.store import Entry, seal_context
from turnout.outbound import Origin, OutboundPolicy

RULE = "the config file wins for every name it defines; stored entries fill in the others"
Body = dict[str, Any]


def _nothing(*_: Any) -> list[Any]:
    return []


@dataclass(frozen=True, slots=True)
class ManagedKind:
    """One kind of config entry the admin API may store: the config section it joins, the
    destinations the outbound policy must admit (``(field, url)``), the secrets sealed apart
    from its body (``split`` takes them out, ``join`` puts the opened ones back), and what an
    admin write of it may never be (``refuse``: problems; the config file may still)."""

    section: str
    destinations: Callable[[Body], list[tuple[str, str]]] = _nothing
    split: Callable[[Body], list[str]] | None = None  # pops the secrets out of the body
    join: Callable[[Body, list[str]], None] | None = None
    refuse: Callable[[str, Body], list[str]] = _nothing


def _provider_destinations(body: Body) -> list[tuple[str, str]]:
    """Every place a provider makes the gateway connect: its ``base_url`` and ``proxy``, its
    OAuth token and device endpoints, and the URLs its type's ``options`` name (Azure's Entra
    ``authority``, where client secrets are posted). The browser-facing authorization URL is
    not one."""
    out = []
    for key in ("base_url", "proxy"):
        url = body.get(key)
        if isinstance(url, str) and not (key == "proxy" and url == "none"):
            out.append((key, url))
    oauth = body.get("oauth")
    for key in ("token_url", "device_authorization_url"):
        url = oauth.get(key) if isinstance(oauth, dict) else None
        if isinstance(url, str):
            out.append((f"oauth.{key}", url))
    out.extend(_option_destinations(body))
    return out


def _provider_refusals(name: str, body: Body) -> list[str]:
    """What a provider written through the admin API may not do, whatever the policy allows:
    read files on the gateway's host (a service-account path as a key, ``/dev/zero`` read
    whole; a file's ``token_uri`` called outside the outbound policy), or sign with the host's
    own cloud credentials towards a ``base_url`` it chose (the host's token sent there).
    ``body`` is the opened one, its ``api_keys`` back in. The config file may do all of it."""
    from turnout.providers.registry import UnknownProviderType, provider_type

    kind_name = body.get("type")
    try:
        kind = provider_type(kind_name) if isinstance(kind_name, str) else None
    except UnknownProviderType:
        kind = None
    if kind is None:
        return []  # refused by the validator
    where = f"providers.{name}"
    tail = "through the admin API (write this provider in the config file)"
    problems = []
    keys = (
        [k for k in body.get("api_keys") or [] if k]
        if isinstance(body.get("api_keys"), list)
        else []
    )
    if kind.key_files and keys:
        problems.append(
            f"{where}.api_keys: {kind.name} keys are files on the gateway's host, not named {tail}"
        )
    options = body.get("options")
    for option in kind.file_options:
        if isinstance(options, dict) and options.get(option) is not None:
            problems.append(
                f"{where}.options.{option}: files on the gateway's host are not named {tail}"
            )
    oauth = body.get("auth") == "oauth"
    if kind.host_credentials and not keys and not oauth and body.get("base_url"):
        problems.append(
            f"{where}.base_url: without api_keys this provider signs with "
            f"{kind.host_credentials}, sent only to {kind.name}'s own endpoint {tail}"
        )
    return problems


def _option_destinations(body: Body) -> list[tuple[str, str]]:
    """The URLs a provider type's options connect to (``ProviderType.option_destinations``);
    the default of an option left out is the type's own, trusted."""
    from turnout.providers.registry import UnknownProviderType, provider_type

    kind = body.get("type")
    try:
        paths = provider_type(kind).option_destinations if isinstance(kind, str) else ()
    except UnknownProviderType:
        return []  # refused by the validator
    out = []
    for path in paths:
        value: Any = body.get("options")
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            out.append((f"options.{path}", value))
    return out


def shown_provider(body: Body) -> Body:
    """A stored provider as the admin API lists it (viewers read it): its static headers'
    values masked (they carry ``Authorization``, ``x-api-key``…), its URLs without the
    credentials they may hold (:func:`~turnout.outbound.display.display_url`), an OAuth client
    secret masked. Its ``api_keys`` are masked by the caller, from the sealed copy."""
    from turnout.auth.credentials import mask
    from turnout.outbound.display import display_url

    out = dict(body)
    headers = out.get("headers")
    if isinstance(headers, dict):
        out["headers"] = {k: mask(v) if isinstance(v, str) else v for k, v in headers.items()}
    for key in ("base_url", "proxy"):
        if isinstance(out.get(key), str) and out[key] != "none":
            out[key] = display_url(out[key])
    oauth = out.get("oauth")
    if isinstance(oauth, dict):
        oauth = dict(oauth)
        if isinstance(oauth.get("client_secret"), str):
            oauth["client_secret"] = mask(oauth["client_secret"])
        for key in ("token_url", "authorization_url", "device_authorization_url"):
            if isinstance(oauth.get(key), str):
                oauth[key] = display_url(oauth[key])
        out["oauth"] = oauth
    return out


# A provider's sealed list holds its ``api_keys`` one by one and, after them, at most one
# value that starts with this mark: its other credentials (the static ``headers``,
# ``oauth.client_secret``, and a ``base_url`` or ``proxy`` that carries userinfo or a query)
# as one JSON object. A key never starts with a NUL byte.
FIELDS_MARK = "\x00turnout-provider-fields:"
URL_FIELDS = ("base_url", "proxy")


def holds_credentials(url: str) -> bool:
    """Whether a URL may carry a credential the database must not hold in the clear: userinfo
    (``user:token@``) or a query (``?key=…``, ``?api-key=…``: Gemini- and Azure-style). One
    that cannot be read is taken to (the validator refuses it anyway)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return True
    return "@" in parts.netloc or bool(parts.query)


def provider_fields(body: Body) -> list[str]:
    """Pops a provider's credentials other than its keys out of ``body``: its static
    ``headers`` (``Authorization``, ``x-api-key``… a custom upstream's credential), its OAuth
    ``client_secret``, and a URL with userinfo or a query (its body keeps the URL as
    :func:`~turnout.outbound.display.display_url` shows it, for whoever reads the row); one
    value to seal (none when it has none of them)."""
    from turnout.outbound.display import display_url

    fields: Body = {}
    headers = body.get("headers")
    if isinstance(headers, dict) and headers:  # anything else stays for the validator
        fields["headers"] = body.pop("headers")
    oauth = body.get("oauth")
    if isinstance(oauth, dict) and oauth.get("client_secret") is not None:
        oauth = dict(oauth)
        fields["client_secret"] = oauth.pop("client_secret")
        body["oauth"] = oauth
    for key in URL_FIELDS:
        url = body.get(key)
        if isinstance(url, str) and holds_credentials(url):
            fields[key] = url
            body[key] = display_url(url)
    return [FIELDS_MARK + json.dumps(fields)] if fields else []


def is_fields(opened: str) -> bool:
    return opened.startswith(FIELDS_MARK)


def _provider_join(body: Body, opened: list[str]) -> None:
    """The opened keys and credentials back in a provider's body. A row written before they
    were sealed keeps them in its body: read as they are."""
    keys = [k for k in opened if not is_fields(k)]
    if keys:
        body["api_keys"] = keys
    for value in opened:
        if not is_fields(value):
            continue
        fields = json.loads(value[len(FIELDS_MARK) :])
        if isinstance(fields.get("headers"), dict):
            old = body.get("headers")
            body["headers"] = {**(old if isinstance(old, dict) else {}), **fields["headers"]}
        if "client_secret" in fields:
            oauth = body.get("oauth")
            body["oauth"] = {**(oauth if isinstance(oauth, dict) else {}),
                             "client_secret": fields["client_secret"]}  # fmt: skip
        for key in URL_FIELDS:
            if isinstance(fields.get(key), str):
                body[key] = fields[key]


# The kinds the admin API stores: one entry each ("module:NAME" is imported on first use).
# A provider's ``api_keys`` and other credentials are sealed by the service itself (an update
# without ``api_keys`` keeps the stored ones: provider_fields), so the kind has no ``split``.
KINDS: dict[str, ManagedKind | str] = {
    "provider": ManagedKind(
        "providers",
        destinations=_provider_destinations,
        join=_provider_join,
        refuse=_provider_refusals,
    ),
    "model": ManagedKind("models"),
    "mcp_server": "turnout.mcp.managed:KIND",
    "agent": "turnout.a2a.managed:KIND",
}


def kind_of(name: str) -> ManagedKind | None:
    """The registered kind, or None (an entry a newer version stored: left alone)."""
    found = KINDS.get(name)
    if isinstance(found, str):
        module, _, attr = found.partition(":")
        found = KINDS[name] = getattr(importlib.import_module(module), attr)
    assert found is None or isinstance(found, ManagedKind)
    return found


def section(kind: str) -> str:
    found = kind_of(kind)
    return found.section if found is not None else kind


@dataclass(slots=True)
class Sources:
    """Which names came from where (shown by ``GET /admin/config``), per config section."""

    database: dict[str, list[str]] = field(default_factory=lambda: {"providers": [], "models": []})
    shadowed: dict[str, list[str]] = field(default_factory=lambda: {"providers": [], "models": []})

    def public(self) -> dict[str, Any]:
        return {"rule": RULE, "database": self.database, "shadowed": self.shadowed}


class SealedKeyError(Exception):
    """A stored key cannot be opened (no or another TURNOUT_SECRET_KEY)."""


def merge(base: TurnoutConfig, entries: list[Entry], box: SecretBox | None) -> tuple[Body, Sources]:
    """The raw config tree of ``base`` with the stored entries added under free names."""
    data = base.model_dump(mode="json", exclude_unset=True)
    sources = Sources()
    for entry in entries:
        kind = kind_of(entry.kind)
        if kind is None:
            continue
        defined = getattr(base, kind.section)
        if entry.name in defined:
            sources.shadowed.setdefault(kind.section, []).append(entry.name)
            continue
        body = dict(entry.body)
        if entry.sealed_keys and kind.join is not None:
            kind.join(body, open_keys(entry, box))
        data.setdefault(kind.section, {})[entry.name] = body
        sources.database.setdefault(kind.section, []).append(entry.name)
    return data, sources


def open_keys(entry: Entry, box: SecretBox | None) -> list[str]:
    where = f"{section(entry.kind)}.{entry.name}"
    if box is None:
        raise SealedKeyError(f"{where}: its secrets are sealed; set TURNOUT_SECRET_KEY to use them")
    try:
        return [box.open(k, seal_context(entry.name, entry.kind)) for k in entry.sealed_keys]
    except Exception as exc:
        raise SealedKeyError(f"{where}: a stored secret cannot be opened: {exc}") from None


def check(data: dict[str, Any]) -> tuple[TurnoutConfig | None, list[str]]:
    """Validate a merged tree: every problem, with its path."""
    return validate(data)


async def outbound_problems(policy: OutboundPolicy, kind: str, name: str, body: Body) -> list[str]:
    """Destinations from the admin API must be allowed by the outbound policy: checked as
    written (scheme, spelling, address literals) and as resolved now."""
    found = kind_of(kind)
    problems: list[str] = []
    for key, url in found.destinations(body) if found is not None else ():
        try:
            dest = policy.check_url(url, Origin.ADMIN)
            await policy.addresses(dest, Origin.ADMIN)
        except Exception as exc:
            problems.append(
                f"{found.section if found else kind}.{name}.{key}: "
                f"refused by the outbound policy: {exc}"
            )
    return problems


def admin_origin(runtime: Runtime, names: list[str]) -> Runtime:
    """Connections of providers from the admin API are checked by the outbound policy as
    admin-supplied destinations (a config file's are trusted)."""
    if not names:
        return runtime
    providers = dict(runtime.providers)
    for name in names:
        spec = providers.get(name)
        if spec is not None:
            egress = replace(spec.egress, origin=Origin.ADMIN.value)
            providers[name] = replace(spec, egress=egress)
    return replace(runtime, providers=MappingProxyType(providers))
