"""An upstream's whole answer made fit for any client (``ir.response.settle``)."""

from __future__ import annotations

import pytest

from turnout.ir.content import Part, TextPart, ToolCallPart
from turnout.ir.response import IRResponse, settle


def test_a_tool_call_id_given_twice_is_refused() -> None:
    """A client pairs each tool's result with its call by id: two calls of one id in an
    answer cannot both be answered (the stream's twin: tests/security/test_upstream_answers)."""
    twice: list[Part] = [ToolCallPart("call_1", "a", {}), ToolCallPart("call_1", "b", {})]
    with pytest.raises(ValueError, match="given twice"):
        settle(IRResponse(content=twice))
    calls = [ToolCallPart("call_1", "a", {}), ToolCallPart("call_2", "a", {})]
    different: list[Part] = [TextPart("x"), *calls]
    assert settle(IRResponse(content=different)).content == different
