"""What the property tests of tests/security share: JSON trees over given leaves, and every
path into a body (to replace one of its values)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from hypothesis import strategies as st


def trees(leaves: st.SearchStrategy[Any], max_leaves: int) -> st.SearchStrategy[Any]:
    """Any JSON value built from ``leaves``: lists and objects of a few members, nested."""
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def paths(
    value: Any, prefix: tuple[Any, ...] = (), skip: Collection[str] = ()
) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (list items and nested fields too), but the
    top-level fields named in ``skip``."""
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, child in items:
        if prefix == () and key in skip:
            continue
        path = (*prefix, key)
        yield path
        yield from paths(child, path)
