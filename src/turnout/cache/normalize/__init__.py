"""What decides an answer, per wire protocol: one module each, the same two functions.

``fields(call)`` returns the request fields that can change the answer (a shallow copy of the
parsed body without the ones that cannot, plus any header that changes the answer), and
``cross_servable(call)`` says whether one stored answer may serve both the stream and the
non-stream form of the request: not when the answer carries something the shared internal
representation cannot carry (several choices, logprobs, server-tool blocks, citations...).
Fields are *removed* by name, never picked: an unknown field stays in the key, so a new
parameter can only cost a hit, never serve a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from turnout.protocols.anthropic import cache as anthropic
from turnout.protocols.gemini import cache as gemini
from turnout.protocols.openai import cache as openai
from turnout.types import Call

Fields = Callable[[Call], dict[str, Any]]
CrossServable = Callable[[Call], bool]

FIELDS: Mapping[str, Fields] = {
    "openai": openai.fields,
    "anthropic": anthropic.fields,
    "gemini": gemini.fields,
}
CROSS_SERVABLE: Mapping[str, CrossServable] = {
    "openai": openai.cross_servable,
    "anthropic": anthropic.cross_servable,
    "gemini": gemini.cross_servable,
}


__all__ = ["CROSS_SERVABLE", "FIELDS"]
