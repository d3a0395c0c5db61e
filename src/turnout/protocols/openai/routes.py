"""OpenAI-compatible inbound operations: where their model and stream flag are."""

from __future__ import annotations

from typing import Any

from turnout.protocols.descriptor import Route, require_model, stream_flag
from turnout.types import Scope


def _chat(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), stream_flag(data)


def _embeddings(data: dict[str, Any], scope: Scope) -> tuple[str, bool]:
    return require_model(data), False


CHAT = Route("chat", _chat)
EMBEDDINGS = Route("embeddings", _embeddings)
