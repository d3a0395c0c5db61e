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

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from turnout.config.compile import Runtime
from turnout.config.schema import TurnoutConfig
from turnout.config.validate import validate
from turnout.crypto import SecretBox
from turnout.live.store import Entry, seal_context
from turnout.outbound import Origin, OutboundPolicy

SECTION = {"provider": "providers", "model": "models"}
RULE = "the config file wins for every name it defines; stored entries fill in the others"


@dataclass(slots=True)
class Sources:
    """Which names came from where (shown by ``GET /admin/config``)."""

    database: dict[str, list[str]] = field(default_factory=lambda: {"providers": [], "models": []})
    shadowed: dict[str, list[str]] = field(default_factory=lambda: {"providers": [], "models": []})

    def public(self) -> dict[str, Any]:
        return {"rule": RULE, "database": self.database, "shadowed": self.shadowed}


class SealedKeyError(Exception):
    """A stored key cannot be opened (no or another TURNOUT_SECRET_KEY)."""


def merge(
    base: TurnoutConfig, entries: list[Entry], box: SecretBox | None
) -> tuple[dict[str, Any], Sources]:
    """The raw config tree of ``base`` with the stored entries added under free names."""
    data = base.model_dump(mode="json", exclude_unset=True)
    sources = Sources()
    for entry in entries:
        section_name = SECTION[entry.kind]
        defined = base.providers if entry.kind == "provider" else base.models
        if entry.name in defined:
            sources.shadowed[section_name].append(entry.name)
            continue
        body = dict(entry.body)
        if entry.kind == "provider" and entry.sealed_keys:
            body["api_keys"] = open_keys(entry, box)
        data.setdefault(section_name, {})[entry.name] = body
        sources.database[section_name].append(entry.name)
    return data, sources


def open_keys(entry: Entry, box: SecretBox | None) -> list[str]:
    if box is None:
        raise SealedKeyError(
            f"providers.{entry.name}: its keys are sealed; set TURNOUT_SECRET_KEY to use them"
        )
    try:
        return [box.open(k, seal_context(entry.name)) for k in entry.sealed_keys]
    except Exception as exc:
        raise SealedKeyError(
            f"providers.{entry.name}: a stored key cannot be opened: {exc}"
        ) from None


def check(data: dict[str, Any]) -> tuple[TurnoutConfig | None, list[str]]:
    """Validate a merged tree: every problem, with its path."""
    return validate(data)


async def outbound_problems(policy: OutboundPolicy, name: str, body: dict[str, Any]) -> list[str]:
    """A provider's destinations from the admin API must be allowed by the outbound policy:
    checked as written (scheme, spelling, address literals) and as resolved now."""
    problems: list[str] = []
    for key in ("base_url", "proxy"):
        url = body.get(key)
        if not isinstance(url, str) or (key == "proxy" and url == "none"):
            continue
        try:
            dest = policy.check_url(url, Origin.ADMIN)
            await policy.addresses(dest, Origin.ADMIN)
        except Exception as exc:
            problems.append(f"providers.{name}.{key}: refused by the outbound policy: {exc}")
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
