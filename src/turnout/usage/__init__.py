"""Token usage of same-protocol calls, read from the bytes the gateway relays.

Translated calls get their usage from the IR (:mod:`turnout.providers.translate`);
passthrough calls are never parsed on the way through, so each protocol module here knows
where its usage sits in a body and in a stream, and finds it with byte searches. The API layer
calls :func:`from_body` for a whole reply and :func:`observe` once per stream; the observer's
``feed`` is then the only per-chunk cost, and parsing waits for the background log drain.
"""

from __future__ import annotations

from collections.abc import Callable

from turnout.errors import Protocol
from turnout.protocols.anthropic import usage as anthropic
from turnout.protocols.gemini import usage as gemini
from turnout.protocols.openai import usage as openai
from turnout.types import Call, Usage
from turnout.usage.base import Passthrough, StreamObserver

BODIES: dict[str, Callable[[bytes], Usage | None]] = {
    "openai": openai.from_body,
    "anthropic": anthropic.from_body,
    "gemini": gemini.from_body,
}


def from_body(protocol: Protocol, body: bytes) -> Usage | None:
    parse = BODIES.get(protocol)
    return parse(body) if parse is not None else None


def observe(call: Call, ask: bool) -> StreamObserver:
    """The observer for a stream call; with ``ask``, an OpenAI chat stream that did not ask
    for usage is made to (and the observer hides the extra chunk from the client)."""
    protocol = call.protocol
    if protocol == "openai":
        strip = ask and call.operation == "chat" and openai.ask_for_usage(call)
        return openai.OpenAIStream(strip)
    if protocol == "anthropic":
        return anthropic.AnthropicStream()
    if protocol == "gemini":
        return gemini.GeminiStream()
    return Passthrough()


__all__ = ["StreamObserver", "from_body", "observe"]
