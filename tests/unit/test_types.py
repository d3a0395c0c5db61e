"""A call's copy with changes (``derived``) is what ``dataclasses.replace`` makes."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from turnout.types import Call, derived


def _populated() -> Call:
    call = Call(
        protocol="openai",
        operation="chat",
        model="m",
        body=b"{}",
        data={"model": "m"},
        stream=True,
        headers={b"a": b"b"},
        request_id="r",
        started=1.0,
    )
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
