"""Spellings from the systems Turnout replaces, rewritten to Turnout's own before validation.

llmGateway users write a provider's behaviour under ``gateway_policy``::

    providers:
      work:
        type: openai
        gateway_policy:
          streaming_mode: disabled
          error_parsing:
            enabled: true
            rules:
              - {status_code: 400, error_path: error.code, match_pattern: "quota",
                 map_to: no_quota, priority: 10, description: "billing"}

Turnout's schema stays closed and has one spelling per setting, so instead of teaching it
both, this module moves each seed setting to its canonical place (``streaming_mode``,
``error_rules`` with ``status``/``path``/``match``/``reason``) and says so in one line per
setting, showing the canonical form to write instead. Seed defaults are kept where they differ
from Turnout's (a seed rule's ``priority`` is 0 when omitted, Turnout's 100), so a seed config
behaves as it did there. The rewrite is pure: a tree in, a tree out, plus the notices, any
problems it can name better than the validator, and where each moved path came from so the
validator's problems point at the line the user wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from turnout.config.messages import format_path

# Seed names of the failure reasons that differ from Turnout's (map_to values).
REASON_ALIASES: dict[str, str] = {
    "auth_error": "invalid_key",
    "authentication_error": "invalid_key",
    "invalid_api_key": "invalid_key",
    "unauthorized": "invalid_key",
    "quota_exceeded": "no_quota",
    "insufficient_quota": "no_quota",
    "rate_limit": "rate_limited",
    "rate_limit_exceeded": "rate_limited",
    "context_length_exceeded": "context_length",
    "context_too_long": "context_length",
    "service_unavailable": "overloaded",
    "upstream_error": "server_error",
}
# Seed rule field → canonical rule field.
RULE_FIELDS = {
    "status_code": "status",
    "error_path": "path",
    "match_pattern": "match",
    "map_to": "reason",
    "priority": "priority",
    "description": "description",
}
SEED_RULE_PRIORITY = 0  # what a seed rule without a priority had there
POLICY_KEYS = ("streaming_mode", "error_parsing")

Loc = tuple[str | int, ...]


@dataclass(slots=True)
class Normalised:
    """What :func:`normalise` made of a tree."""

    tree: dict[str, Any]
    notices: list[str] = field(default_factory=list)  # one line per rewritten setting
    problems: list[str] = field(default_factory=list)  # seed settings that cannot be rewritten
    moved: dict[str, str] = field(default_factory=dict)  # canonical path → path in the file


def normalise(raw: dict[str, Any]) -> Normalised:
    """Rewrite every seed spelling of ``raw`` (not modified) into Turnout's."""
    out = Normalised(tree=raw)
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return out
    if not any(isinstance(p, dict) and "gateway_policy" in p for p in providers.values()):
        return out  # nothing to do: the tree is returned as it is
    rewritten: dict[str, Any] = {}
    for name, provider in providers.items():
        if isinstance(provider, dict) and "gateway_policy" in provider:
            rewritten[name] = _provider(str(name), provider, out)
        else:
            rewritten[name] = provider
    out.tree = {**raw, "providers": rewritten}
    return out


def _provider(name: str, provider: dict[str, Any], out: Normalised) -> dict[str, Any]:
    here: Loc = ("providers", name)
    policy = provider["gateway_policy"]
    result = {k: v for k, v in provider.items() if k != "gateway_policy"}
    if policy is None:
        return result
    if not isinstance(policy, dict):
        out.problems.append(
            f"{format_path((*here, 'gateway_policy'))}: expected a mapping "
            "(streaming_mode, error_parsing)"
        )
        return result
    for key in policy:
        if key not in POLICY_KEYS:
            out.problems.append(
                f"{format_path((*here, 'gateway_policy', str(key)))}: unknown gateway_policy "
                f"setting (known: {', '.join(POLICY_KEYS)})"
            )
    if "streaming_mode" in policy:
        mode = policy["streaming_mode"]
        src = (*here, "gateway_policy", "streaming_mode")
        if "streaming_mode" in provider:
            out.problems.append(
                f"{format_path(src)}: also set as {format_path((*here, 'streaming_mode'))}; "
                "keep one"
            )
        else:
            result["streaming_mode"] = mode
            out.moved[format_path((*here, "streaming_mode"))] = format_path(src)
            out.notices.append(
                f"{format_path(src)}: llmGateway's spelling, read as "
                f"{format_path((*here, 'streaming_mode'))}: {_flow(mode)}"
            )
    if "error_parsing" in policy:
        _error_parsing(here, policy["error_parsing"], result, out)
    return result


def _error_parsing(here: Loc, parsing: Any, result: dict[str, Any], out: Normalised) -> None:
    src: Loc = (*here, "gateway_policy", "error_parsing")
    if not isinstance(parsing, dict):
        out.problems.append(f"{format_path(src)}: expected a mapping (enabled, rules)")
        return
    for key in parsing:
        if key not in ("enabled", "rules"):
            out.problems.append(
                f"{format_path((*src, str(key)))}: unknown error_parsing setting "
                "(known: enabled, rules)"
            )
    rules = parsing.get("rules") or []
    if not isinstance(rules, list):
        out.problems.append(f"{format_path((*src, 'rules'))}: expected a list of rules")
        return
    if parsing.get("enabled", True) is False:
        out.notices.append(
            f"{format_path(src)}.enabled is false: its {len(rules)} rule(s) are not used "
            f"(Turnout: leave {format_path((*here, 'error_rules'))} out)"
        )
        return
    existing = result.get("error_rules")
    kept = list(existing) if isinstance(existing, list) else []
    base = len(kept)
    canonical: list[Any] = []
    for i, rule in enumerate(rules):
        rule_src = (*src, "rules", i)
        rule_dst = (*here, "error_rules", base + i)
        out.moved[format_path(rule_dst)] = format_path(rule_src)
        if not isinstance(rule, dict):
            canonical.append(rule)  # the validator says what is wrong with it
            continue
        new: dict[str, Any] = {}
        for key, value in rule.items():
            target = RULE_FIELDS.get(str(key), str(key))  # unknown keys: the validator's
            if target == "reason" and isinstance(value, str):
                value = REASON_ALIASES.get(value, value)
            new[target] = value
            out.moved[format_path((*rule_dst, target))] = format_path((*rule_src, str(key)))
        new.setdefault("priority", SEED_RULE_PRIORITY)
        canonical.append(new)
    result["error_rules"] = kept + canonical
    shown = ", ".join(_flow(r) for r in canonical)
    out.notices.append(
        f"{format_path(src)}: llmGateway's spelling, read as "
        f"{format_path((*here, 'error_rules'))}: [{shown}]"
    )


def _flow(value: Any) -> str:
    """A value in YAML flow style, on one line (what the notice shows)."""
    import yaml

    text: str = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 30)
    return text.strip().removesuffix("...").strip()
