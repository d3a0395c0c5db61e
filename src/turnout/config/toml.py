"""Config files in TOML (``turnout.toml``, ``config.toml``): the same schema as YAML.

Users of gateways configured in TOML keep their habit; the tree a TOML file parses to goes
through the same environment references, seed spellings and validator as a YAML one, so the
problems name the same paths. ``tomllib`` (the standard library's reader) gives no positions,
so the line of each path is found by a small scan of the text: table headers (``[a.b]``,
``[[a.b]]``) and ``key = value`` lines, which is where nearly every problem points.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from turnout.config.messages import format_path

SUFFIXES = (".toml",)

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"((?:[^"\\]|\\.)*)"')
_LITERAL = re.compile(r"'([^']*)'")
_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*(\]\]?)\s*(#.*)?$")


class TomlProblem(ValueError):
    """The text is not TOML; ``where`` is ``line L, column C`` when the reader said."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(message)


def read(text: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The parsed tree and the line (1-based) where each formatted path starts."""
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", message)
        where = f"line {m.group(1)}, column {m.group(2)}" if m else "<file>"
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise TomlProblem(where, message) from None
    return tree, _lines(text)


def _keys(text: str) -> list[str] | None:
    """A dotted key (``a."b.c".d``) split into its parts; None if it is not one."""
    parts: list[str] = []
    rest = text.strip()
    while rest:
        for pattern in (_BASIC, _LITERAL, _BARE):
            m = pattern.match(rest)
            if m:
                parts.append(m.group(1) if pattern is not _BARE else m.group(0))
                rest = rest[m.end() :].lstrip()
                break
        else:
            return None
        if rest.startswith("."):
            rest = rest[1:].lstrip()
        elif rest:
            return None
    return parts or None


def _lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    table: tuple[str | int, ...] = ()
    arrays: dict[tuple[str | int, ...], int] = {}
    multiline: str | None = None  # the delimiter of a multi-line string being skipped
    for number, row in enumerate(text.splitlines(), start=1):
        if multiline is not None:
            if multiline in row:
                multiline = None
            continue
        header = _HEADER.match(row)
        if header and len(header.group(1)) == len(header.group(3)):
            keys = _keys(header.group(2))
            if keys is None:
                continue
            path: tuple[str | int, ...] = tuple(keys)
            for i in range(1, len(path) + 1):
                lines.setdefault(format_path(path[:i]), number)
            if header.group(1) == "[[":
                index = arrays.get(path, -1) + 1
                arrays[path] = index
                path = (*path, index)
                lines.setdefault(format_path(path), number)
            table = path
            continue
        key, sep, value = row.partition("=")
        if not sep or row.lstrip().startswith("#"):
            continue
        keys = _keys(key)
        if keys is None:
            continue
        full = (*table, *keys)
        for i in range(len(table) + 1, len(full) + 1):
            lines.setdefault(format_path(full[:i]), number)
        for quote in ('"""', "'''"):
            if value.count(quote) == 1:
                multiline = quote
    return lines
