"""Responses API inbound operations: where their model and stream flag are."""

from __future__ import annotations

from typing import Any

from turnout.protocols.descriptor import Route, require_model, stream_flag
from turnout.types import Scope


def _responses(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), stream_flag(data)


def _input_tokens(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), False


RESPONSES = Route("responses", _responses)
INPUT_TOKENS = Route("input_tokens", _input_tokens)
