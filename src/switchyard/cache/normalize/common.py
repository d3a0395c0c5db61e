"""Helpers every protocol's normalization shares."""

from __future__ import annotations

from typing import Any


def canonical_numbers(data: dict[str, Any]) -> dict[str, Any]:
    """``1.0`` and ``1`` are the same temperature: integral floats become ints (one level)."""
    for name, value in data.items():
        if type(value) is float and value.is_integer():
            data[name] = int(value)
    return data
