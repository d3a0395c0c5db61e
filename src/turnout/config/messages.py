"""Problem messages in the words of the config file, not of pydantic.

Pydantic reports a location as a tuple that includes the name of each union member it tried
(``models.demo.cache.bool`` and ``models.demo.cache.constrained-float`` for one mistake) and a
message per member. A user wants one line per mistake, at the path they wrote, saying what was
expected and what was found, so the errors are regrouped here by their cleaned path. Values are
shown unless they sit under a field that holds credentials; URLs lose their user information.
"""

from __future__ import annotations

import difflib
import re
import types
import unicodedata
from collections.abc import Iterable
from typing import Any, Union, get_args, get_origin
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ValidationError

from turnout.config.providers import REASONS
from turnout.config.schema import TurnoutConfig
from turnout.outbound.display import scrub_urls

Loc = tuple[str | int, ...]

# Fields whose values are (or may contain) secrets: their values are never echoed.
_SECRET_FIELDS = frozenset({"api_keys", "headers", "master_key", "client_secret", "token"})
_LABEL = re.compile(r"[\w-]+")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")
_USERINFO = re.compile(r"//[^/@]*@")

# What each pydantic type error expected, as a phrase that completes "expected ...".
_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def format_path(loc: Loc) -> str:
    """Render a location as users write paths: ``models.m.deployments[1].provider``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "<root>"


def suggest(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def unwrap(tp: Any) -> Any:
    """Strip ``X | None`` so a walk can continue into X."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def clean_loc(loc: Loc) -> Loc:
    """Drop the union-member names pydantic inserts into locations, walking the schema to know
    where a union is (a dict key that happens to read ``int`` is kept)."""
    out: list[str | int] = []
    current: Any = TurnoutConfig
    for part in loc:
        tp = unwrap(current)
        if _is_union(tp):
            current = None  # the member is unknown from here on: keep the rest verbatim
            continue
        out.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            current = field.annotation if field is not None else None
        elif get_origin(tp) in (dict, list):
            current = get_args(tp)[-1]
        else:
            current = None
    return tuple(out)


def model_at(loc: Loc) -> type[BaseModel] | None:
    """The schema class that owns the mapping at ``loc`` (to list its allowed keys)."""
    current: Any = TurnoutConfig
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            continue
        current = unwrap(current)
        if get_origin(current) in (dict, list):
            current = get_args(current)[-1]
        else:
            return None
    current = unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def shown(value: Any, loc: Loc) -> str:
    """``, got <value>`` for the message, or nothing where the value may be a secret."""
    if any(part in _SECRET_FIELDS for part in loc):
        return ""
    if isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, int | float):
        text = repr(value)
    elif isinstance(value, str):
        # A URL is shown without its userinfo and query values (a credential's places).
        value = scrub_urls(value) if "://" in value else value
        clipped = value if len(value) <= 60 else value[:57] + "..."
        text = repr(_USERINFO.sub("//***@", clipped))
    elif isinstance(value, list):
        text = "a list"
    elif isinstance(value, dict):
        text = "a mapping"
    else:
        return ""
    return f", got {text}"


def _bound(err: Any, key: str) -> str:
    value = (err.get("ctx") or {}).get(key)
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _phrase(err: Any) -> tuple[str, bool]:
    """What one error expected; the flag says whether it is a type expectation."""
    kind = err["type"]
    if kind in _EXPECTED:
        return _EXPECTED[kind], True
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"a number {words} {_bound(err, key)}", True
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        return f"one of {expected}", True
    return str(err["msg"]), False


def pydantic_problems(exc: ValidationError) -> list[str]:
    """One message per mistake: union members merged, values shown, friendly wording."""
    groups: dict[Loc, list[Any]] = {}
    for err in exc.errors():
        groups.setdefault(clean_loc(tuple(err["loc"])), []).append(err)
    return [_problem(loc, errs) for loc, errs in groups.items()]


def _problem(loc: Loc, errs: list[Any]) -> str:
    path = format_path(loc)
    first = errs[0]
    kind = first["type"]
    given = first.get("input")
    if kind == "extra_forbidden":
        owner = model_at(loc[:-1])
        allowed = sorted(owner.model_fields) if owner else []
        hint = suggest(str(loc[-1]), allowed)
        known = f" (allowed: {', '.join(allowed)})" if allowed and not hint else ""
        return f"{path}: unknown key{hint}{known}"
    if kind == "missing":
        return f"{path}: required"
    if kind == "provider_type":
        text = str(given)
        if ":" in text:  # an import path: the registry says what went wrong
            return f"{path}: {first['msg']}"
        from turnout.providers.registry import names  # it imports the config package

        kinds = names()
        hint = suggest(text, kinds)
        return f"{path}: unknown provider type '{text}'{hint} (known: {', '.join(kinds)})"
    if kind == "literal_error" and loc and loc[-1] == "reason":
        text = str(given)
        hint = suggest(text, REASONS)
        return f"{path}: unknown reason '{text}'{hint} (known: {', '.join(REASONS)})"
    if len(errs) == 1 and kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"{path}: must be {words} {_bound(first, key)}{shown(given, loc)}"
    phrases = [_phrase(err) for err in errs]
    if all(is_type for _, is_type in phrases):
        options = list(dict.fromkeys(p for p, _ in phrases))
        glue = ", or " if any(" or " in p for p in options) else " or "
        return f"{path}: expected {glue.join(options)}{shown(given, loc)}"
    return f"{path}: {'; '.join(dict.fromkeys(p for p, _ in phrases))}{shown(given, loc)}"


def _host_ok(host: str) -> bool:
    """Whether ``host`` can name a machine in some spelling: percent-escapes and full-width
    characters are normalised first, as resolvers do, so odd spellings of an address pass here
    and are judged by the outbound policy; an ellipsis (``…`` becomes ``...``), an empty label
    or a missing host do not."""
    text = unicodedata.normalize("NFKC", unquote(host))
    if ":" in text:
        return _IPV6.fullmatch(text) is not None
    labels = text.removesuffix(".").split(".")
    return all(_LABEL.fullmatch(label) for label in labels)


def url_problem(value: str, schemes: tuple[str, ...]) -> str | None:
    """Why ``value`` is not a usable URL of one of ``schemes`` (a placeholder such as
    ``redis://…`` included), or None when it is."""
    got = shown(value, ())
    parts = urlsplit(value)
    if parts.scheme not in schemes or not value.startswith(f"{parts.scheme}://"):
        return f"must start with {' or '.join(s + '://' for s in schemes)}{got}"
    if not _host_ok(parts.hostname or ""):
        return f"needs a valid host name{got}"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"has an invalid port{got}"
    return None
