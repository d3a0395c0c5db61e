"""The canonical form of a config file: what ``turnout check --print-canonical`` prints.

It is the file's own tree with every seed spelling rewritten (:mod:`turnout.config.seed`) and
written as YAML, whichever format the file was in: the file to keep once a config from another
gateway loads. Environment references (``${VAR}``, ``os.environ/VAR``) are kept as written, so
the output holds no secret the file did not; keys written literally into the file are masked
(the output is printed, and terminals and CI logs keep what they print), with a comment saying
so. Defaults are not filled in: the reference (docs/configuration.md) lists them.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from turnout.config.seed import normalise

_REFERENCE = re.compile(r"^(\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}|os\.environ/\S+)$")
_SECRET_HEADERS = re.compile(r"(authorization|api[-_]?key|token|secret|cookie)", re.IGNORECASE)


def canonical_tree(raw: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The normalised tree with literal secrets masked, and how many were."""
    tree = normalise(raw).tree
    masked = 0

    def hide(value: Any) -> Any:
        nonlocal masked
        if not isinstance(value, str) or not value or _REFERENCE.match(value):
            return value
        from turnout.health.targets import mask

        masked += 1
        return mask(value)

    providers = tree.get("providers")
    if isinstance(providers, dict):
        shown: dict[str, Any] = {}
        for name, provider in providers.items():
            if isinstance(provider, dict):
                provider = dict(provider)
                keys = provider.get("api_keys")
                if isinstance(keys, list):
                    provider["api_keys"] = [hide(k) for k in keys]
                headers = provider.get("headers")
                if isinstance(headers, dict):
                    provider["headers"] = {
                        k: hide(v) if _SECRET_HEADERS.search(str(k)) else v
                        for k, v in headers.items()
                    }
            shown[name] = provider
        tree = {**tree, "providers": shown}
    auth = tree.get("auth")
    if isinstance(auth, dict) and "master_key" in auth:
        tree = {**tree, "auth": {**auth, "master_key": hide(auth["master_key"])}}
    metrics = tree.get("metrics")
    if isinstance(metrics, dict) and "token" in metrics:
        tree = {**tree, "metrics": {**metrics, "token": hide(metrics["token"])}}
    return tree, masked


def render(raw: dict[str, Any]) -> str:
    """The canonical form as YAML text."""
    tree, masked = canonical_tree(raw)
    text: str = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=100)
    if masked:
        text = (
            f"# {masked} secret(s) written literally in the file are masked below; "
            "reference them as ${VAR} instead\n" + text
        )
    return text
