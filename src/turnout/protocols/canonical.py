"""Helpers every protocol's normalization shares."""

from __future__ import annotations

from collections.abc import Container
from typing import Any

_EMPTY: tuple[Any, ...] = (None, {}, [])


def canonical(data: dict[str, Any], ignored: Container[str] = ()) -> dict[str, Any]:
    """One level of a request made canonical: ignored fields dropped, and so are fields set to
    null or to an empty object or list (SDKs send ``"generationConfig": {}`` or ``"tools":
    null`` for "not set"); ``1.0`` and ``1`` are the same temperature, so integral floats
    become ints."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name in ignored or value in _EMPTY:
            continue
        if type(value) is float and value.is_integer():
            value = int(value)
        out[name] = value
    return out
