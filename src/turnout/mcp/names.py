"""Namespacing of aggregated names, and the glob filters applied to them.

At ``/mcp`` every tool and prompt is ``{server}__{name}`` and every resource URI (and URI
template) ``{server}+{uri}``. A server name is ``[a-z][a-z0-9-]*``: it holds neither ``__``
nor ``+``, so splitting at the first separator always gives back the server and the
upstream's own name, and two servers can never produce the same aggregated name.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from urllib.parse import unquote

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


_DECODINGS = 3  # percent-decodings tried: a server decoding more often than that is not seen


def spellings(uri: str) -> set[str]:
    """``uri`` and what an upstream may take it for: percent-decoded (once, twice...), with
    ``\\`` read as ``/``, and dot segments resolved. A deny rule names a URI as the upstream
    uses it, so it must match every one of these (the SDK's templates decode
    ``greeting://%61dmin`` to ``admin``; file servers resolve ``..``)."""
    found = {uri}
    current = uri
    for _ in range(_DECODINGS):
        decoded = unquote(current)
        if decoded == current:
            break
        found.add(decoded)
        current = decoded
    for form in list(found):
        slashed = form.replace("\\", "/")
        found.add(slashed)
        found.add(_without_dot_segments(slashed))
    return found


def _without_dot_segments(uri: str) -> str:
    """Every ``.`` and ``..`` segment of the part after the scheme resolved (RFC 3986 5.2.4,
    read over the authority too: ``greeting://x/../admin`` is ``greeting://admin``)."""
    scheme, colon, rest = uri.partition(":")
    if not colon:
        scheme, rest = "", uri
    out: list[str] = []
    parts = rest.split("/")
    for i, part in enumerate(parts):
        if part == ".":
            if i == len(parts) - 1:
                out.append("")
            continue
        if part == "..":
            if out and out[-1]:  # an empty segment is structure (``//``), never climbed over
                out.pop()
            if i == len(parts) - 1:
                out.append("")
            continue
        out.append(part)
    return f"{scheme}{colon}{'/'.join(out)}"
