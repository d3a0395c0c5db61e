"""Token usage of same-protocol calls, read from the bytes the gateway relays.

Translated calls get their usage from the IR (:mod:`turnout.providers.translate`);
passthrough calls are never parsed on the way through, so each protocol knows where its usage
sits in a body and in a stream (``protocols/<name>/usage.py``, named in its descriptor), and
finds it with byte searches (:mod:`turnout.usage.scan`). The API layer reads a whole reply with
the descriptor's ``usage_from_body`` and watches a stream with its ``usage_observer``; the
observer's ``feed`` is then the only per-chunk cost, and parsing waits for the background log
drain. The two functions here are the same lookups by protocol name, for callers without a
descriptor at hand.
"""

from __future__ import annotations

from turnout.types import Call, Usage
from turnout.usage.base import Passthrough, StreamObserver


def from_body(protocol: str, body: bytes) -> Usage | None:
    from turnout.protocols.registry import PROTOCOLS  # the protocols import this package

    wire = PROTOCOLS.get(protocol)
    return wire.usage_from_body(body) if wire is not None else None


def observe(call: Call, ask: bool) -> StreamObserver:
    """The observer for a stream call; with ``ask``, an OpenAI chat stream that did not ask
    for usage is made to (and the observer hides the extra chunk from the client)."""
    from turnout.protocols.registry import PROTOCOLS

    wire = PROTOCOLS.get(call.protocol)
    return wire.usage_observer(call, ask) if wire is not None else Passthrough()


__all__ = ["StreamObserver", "from_body", "observe"]
