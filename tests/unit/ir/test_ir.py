"""The IR's own invariants: cheap slots dataclasses and normalised usage."""

from __future__ import annotations

import pytest

import turnout.ir as ir
from turnout.ir import ErrorKind, TranslationError, Usage, kind_for_status


def test_public_api_is_exported() -> None:
    for name in ir.__all__:
        assert hasattr(ir, name), name


@pytest.mark.parametrize(
    "cls",
    [ir.TextPart, ir.ToolCallPart, ir.IRRequest, ir.IRResponse, ir.TextDelta, ir.Usage, ir.Message],
)
def test_types_use_slots(cls: type) -> None:
    assert "__slots__" in cls.__dict__


def test_usage_total_defaults_to_sum() -> None:
    assert Usage(3, 4).total() == 7
    assert Usage(3, 4, total_tokens=9).total() == 9


def test_translation_error_names_field() -> None:
    exc = TranslationError("n", "single choice only")
    assert exc.field == "n" and str(exc) == "n: single choice only" and exc.status == 400


@pytest.mark.parametrize(("status", "kind"), [
    (401, ErrorKind.AUTHENTICATION), (429, ErrorKind.RATE_LIMIT), (529, ErrorKind.OVERLOADED),
    (503, ErrorKind.UNAVAILABLE), (504, ErrorKind.TIMEOUT), (500, ErrorKind.SERVER),
    (422, ErrorKind.INVALID_REQUEST),
])  # fmt: skip
def test_kind_for_status(status: int, kind: ErrorKind) -> None:
    assert kind_for_status(status) == kind
