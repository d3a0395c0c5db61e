"""Namespacing of aggregated names, and the glob filters applied to them.

At ``/mcp`` every tool and prompt is ``{server}__{name}`` and every resource URI (and URI
template) ``{server}+{uri}``. A server name is ``[a-z][a-z0-9-]*``: it holds neither ``__``
nor ``+``, so splitting at the first separator always gives back the server and the
upstream's own name, and two servers can never produce the same aggregated name.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

SEP = "__"
URI_SEP = "+"


def join(server: str, name: str) -> str:
    return f"{server}{SEP}{name}"


def split(name: str) -> tuple[str, str] | None:
    server, sep, rest = name.partition(SEP)
    return (server, rest) if sep and server and rest else None


def join_uri(server: str, uri: str) -> str:
    return f"{server}{URI_SEP}{uri}"


def split_uri(uri: str) -> tuple[str, str] | None:
    server, sep, rest = uri.partition(URI_SEP)
    return (server, rest) if sep and server and rest else None


def matches(patterns: Sequence[str], name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def allowed(allow: Sequence[str], deny: Sequence[str], name: str) -> bool:
    """Empty ``allow`` admits everything; ``deny`` wins."""
    return (not allow or matches(allow, name)) and not matches(deny, name)
