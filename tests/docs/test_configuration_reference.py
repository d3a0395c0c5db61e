"""docs/configuration.md is the complete reference of the config schema.

The schema (``turnout.config.schema.TurnoutConfig``) is walked recursively, through models
nested in ``dict``, ``list`` and optional annotations. Every top-level section must have a
heading ``## `<section>` `` in the reference, and every key below it must appear in that
section's text as a code span holding its dotted path relative to the section
(``timeouts.connect``, ``deployments[].price.input``, ``models.<name>.reasoning``; ``[…]`` and
``<…>`` stand for list indexes and mapping keys). A key that only groups other keys
(``timeouts``, ``breaker``) is documented through them. Adding a field to the schema without
documenting it fails here, and so does a documented key or default the schema no longer has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from turnout.config.schema import TurnoutConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
HEADING = re.compile(r"^## `([^`]+)`\s*$")
CODE = re.compile(r"`([^`\n]+)`")

Path_ = tuple[str, ...]


# -- the schema ---------------------------------------------------------------------------------
def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: itself, or inside ``dict[str, M]``,
    ``list[M]``, ``M | None``, ``Annotated[M, …]`` and the like (``Literal`` values are not
    types, so they contribute nothing)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) is None:
        return []
    return [m for arg in get_args(annotation) for m in models_in(arg)]


def field_paths(
    model: type[BaseModel], prefix: Path_ = (), seen: tuple[type, ...] = ()
) -> Iterator[tuple[Path_, Any]]:
    """(path, FieldInfo) of every field of ``model``, depth first, nested models included."""
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        yield path, info
        for sub in models_in(info.annotation):
            if sub not in seen:
                yield from field_paths(sub, path, (*seen, model))


def schema_sections() -> dict[str, dict[Path_, Any]]:
    """Top-level section → {path relative to the section: FieldInfo}."""
    sections: dict[str, dict[Path_, Any]] = {}
    for name, info in TurnoutConfig.model_fields.items():
        fields: dict[Path_, Any] = {}
        for model in models_in(info.annotation):
            fields.update(field_paths(model))
        sections[name] = fields
    return sections


# -- the document -------------------------------------------------------------------------------
def doc_sections() -> dict[str, str]:
    """Text of every ``## `<name>` `` section of the reference, by name."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            m = HEADING.match(line)
            current = m.group(1) if m else None
            if current is not None:
                assert current not in sections, f"two sections named `{current}`"
                sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def normalise(span: str, section: str) -> Path_:
    """A code span as a path relative to ``section``: ``deployments[].price.input`` →
    ``("deployments", "price", "input")``; ``models.<name>.input`` → ``("models", "input")``;
    a leading ``<section>.`` is dropped."""
    bare = re.sub(r"\[[^\]]*\]", "", span.strip())
    parts = [p for p in bare.split(".") if p and not (p.startswith("<") and p.endswith(">"))]
    if parts and parts[0] == section:
        parts = parts[1:]
    return tuple(parts)


def table_rows(text: str) -> Iterator[list[str]]:
    """Cells of every table row whose first cell is a code span (the key column)."""
    for line in text.splitlines():
        if line.startswith("| `"):
            yield [cell.strip() for cell in line.strip().strip("|").split("|")]


SCHEMA = schema_sections()
DOCS = doc_sections()


# -- the tests ----------------------------------------------------------------------------------
def test_every_section_has_a_heading_and_no_heading_is_stale() -> None:
    missing = [s for s in SCHEMA if s not in DOCS]
    assert not missing, f"docs/configuration.md has no '## `<section>`' heading for {missing}"
    stale = [s for s in DOCS if s not in SCHEMA]
    assert not stale, f"docs/configuration.md documents sections the schema lacks: {stale}"


@pytest.mark.parametrize("section", list(SCHEMA))
def test_every_key_of_the_section_is_documented(section: str) -> None:
    documented = {normalise(span, section) for span in CODE.findall(DOCS.get(section, ""))}

    def is_documented(path: Path_, info: Any) -> bool:
        if path in documented:
            return True
        # A group of keys (``timeouts``, ``breaker``) is documented through its own keys,
        # each of which is checked on its own.
        return bool(models_in(info.annotation)) and any(d[: len(path)] == path for d in documented)

    missing = [".".join(p) for p, info in SCHEMA[section].items() if not is_documented(p, info)]
    assert not missing, (
        f"docs/configuration.md, section `{section}`: undocumented keys {missing} "
        "(add a table row with the key's dotted path, its default and its meaning)"
    )


@pytest.mark.parametrize("section", list(SCHEMA))
def test_every_documented_key_exists(section: str) -> None:
    stale = [
        row[0]
        for row in table_rows(DOCS.get(section, ""))
        if normalise(CODE.findall(row[0])[0], section) not in SCHEMA[section]
    ]
    assert not stale, f"docs/configuration.md, section `{section}`: not in the schema: {stale}"


def _as_value(text: str) -> Any:
    """A documented default (the text of a code span) as a Python value."""
    if text in ("true", "false"):
        return text == "true"
    try:
        return json.loads(text)
    except ValueError:
        return text


def _schema_default(info: Any) -> Any:
    if info.default_factory is not None:
        return info.default_factory()
    return info.default


@pytest.mark.parametrize("section", list(SCHEMA))
def test_documented_defaults_match_the_schema(section: str) -> None:
    """Where the default column starts with a code span and the schema has a plain default
    (not required, not None, not a nested model), the two must agree."""
    wrong = []
    for row in table_rows(DOCS.get(section, "")):
        info = SCHEMA[section].get(normalise(CODE.findall(row[0])[0], section))
        if info is None or len(row) < 2 or not row[1].startswith("`"):
            continue
        if info.default is PydanticUndefined and info.default_factory is None:
            continue  # required
        default = _schema_default(info)
        if default is None or isinstance(default, BaseModel):
            continue
        documented = _as_value(CODE.findall(row[1])[0])
        if documented != default:
            wrong.append(f"{row[0]}: documented {row[1]}, schema {default!r}")
    assert not wrong, f"docs/configuration.md, section `{section}`: {wrong}"


def test_the_walk_reaches_nested_models() -> None:
    """Guard the walker itself: models inside dicts and lists are visited."""
    assert ("timeouts", "read") in SCHEMA["providers"]
    assert ("error_rules", "reason") in SCHEMA["providers"]
    assert ("deployments", "price", "input") in SCHEMA["models"]
    assert ("models", "cached_input") in SCHEMA["pricing"]
    assert ("breaker", "max_cooldown") in SCHEMA["routing"]
