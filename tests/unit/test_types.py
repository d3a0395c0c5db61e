"""Copies with changes (``turnout.copies``: a call's, a usage record's) are what
``dataclasses.replace`` makes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import pytest

from tests.unit.cache.helpers import make_call
from turnout.copies import copier
from turnout.ir.response import Usage, copy_usage
from turnout.types import Call, derived


def _populated() -> Call:
    call = make_call("openai", {"model": "m"}, stream=True, headers={b"a": b"b"})
    for i, f in enumerate(fields(Call)):
        if getattr(call, f.name) in (None, 0, "", b"", False):
            setattr(call, f.name, f"value-{i}")  # every field told apart from its default
    return call


def test_derived_is_replace() -> None:
    call = _populated()
    changes: dict[str, Any] = {"protocol": "anthropic", "body": b"x", "path": "", "ir": None}
    new, want = derived(call, **changes), replace(call, **changes)
    assert new == want and new is not call
    assert all(getattr(new, f.name) is getattr(want, f.name) for f in fields(Call))


def test_every_field_is_a_constructor_argument_in_order() -> None:
    """What ``derived`` relies on: a field added with ``init=False`` would break it."""
    assert all(f.init for f in fields(Call))


def test_a_usage_copy_is_replace() -> None:
    usage = Usage(1, 2, 3, 4, 5, 6)
    assert copy_usage(usage) == replace(usage) and copy_usage(usage) is not usage
    assert copy_usage(usage, output_tokens=9) == replace(usage, output_tokens=9)


def test_a_copier_refuses_fields_its_constructor_does_not_take() -> None:
    @dataclass
    class Partial:
        a: int
        b: int = field(init=False, default=0)

    with pytest.raises(TypeError):
        copier(Partial)
