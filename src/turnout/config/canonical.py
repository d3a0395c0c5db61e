"""The canonical form of a config file: what ``turnout check --print-canonical`` prints.

It is the file's own tree with every seed spelling rewritten (:mod:`turnout.config.seed`) and
written as YAML, whichever format the file was in: the file to keep once a config from another
gateway loads. Environment references (``${VAR}``, ``os.environ/VAR``) are kept as written, so
the output holds no secret the file did not; keys written literally into the file are masked
(the output is printed, and terminals and CI logs keep what they print), with a comment saying
so: provider keys, credential fields (``token``, ``client_secret``, ``master_key``…),
credential headers (every header of ``tracing.headers``) and URL passwords, anywhere in the
tree. Defaults are not filled in: the reference (docs/configuration.md) lists them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from turnout.config.seed import normalise

_REFERENCE = re.compile(r"^(\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}|os\.environ/\S+)$")
# Header (and MCP stdio environment variable) names that hold a credential.
_SECRET_HEADERS = re.compile(
    r"(authorization|api[-_]?key|token|secret|cookie|session|password|auth|key$)", re.IGNORECASE
)
# Fields that hold a credential wherever they are (auth of providers, MCP servers, agents,
# the dashboard's OIDC client, metrics, the master key).
_SECRET_FIELDS = frozenset(
    {
        "master_key",
        "token",
        "client_secret",
        "secret",
        "password",
        "access_token",
        "refresh_token",
        "secret_access_key",
        "session_token",
    }
)
# Header maps whose every value is a credential: a collector's headers exist to sign in
# (``x-honeycomb-team``, ``dd-api-key``, ``signoz-access-token``).
_ALL_SECRET_HEADERS = frozenset({"tracing"})


def canonical_tree(raw: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The normalised tree with literal secrets masked, and how many were: provider keys,
    credential fields and headers anywhere in it, and the password of any URL (a database's
    or Redis's ``url``)."""
    tree = normalise(raw).tree
    masked = 0

    def hide(value: Any) -> Any:
        nonlocal masked
        if not isinstance(value, str) or not value or _REFERENCE.match(value):
            return value
        from turnout.health.targets import mask

        masked += 1
        return mask(value)

    def hide_url(value: str) -> str:
        nonlocal masked
        try:
            parts = urlsplit(value)
            password = parts.password
        except ValueError:
            return value
        if not password or _REFERENCE.match(password):
            return value
        masked += 1
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))

    def walk(node: Any, parent: str) -> Any:
        if isinstance(node, list):
            return [walk(item, parent) for item in node]
        if isinstance(node, str):
            return hide_url(node) if "://" in node and "@" in node else node
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            name = str(key)
            if name == "api_keys" and isinstance(value, list):
                out[key] = [hide(k) for k in value]
            elif name in ("headers", "env") and isinstance(value, dict):  # env: MCP stdio
                every = parent in _ALL_SECRET_HEADERS
                out[key] = {
                    k: hide(v) if every or _SECRET_HEADERS.search(str(k)) else v
                    for k, v in value.items()
                }
            elif (name in _SECRET_FIELDS and isinstance(value, str)) or (
                name == "value" and node.get("type") == "header"  # an auth: header pair
            ):
                out[key] = hide(value)
            else:
                out[key] = walk(value, name)
        return out

    return walk(tree, ""), masked


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
