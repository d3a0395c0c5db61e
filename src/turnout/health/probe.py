"""The cheapest request that tells whether a key works for a model: one output token.

A list-models call would be cheaper still, but it proves neither access to the model nor
remaining quota; a one-token completion proves both, and any answer other than an auth,
quota or rate-limit error (even a 400 for a model that wants other parameters) proves the
key itself is accepted.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson

from turnout.errors import Protocol
from turnout.types import Call

_PING = "ping"


def probe_body(protocol: Protocol, model: str) -> tuple[str, dict[str, Any]]:
    """(operation, request body) of a one-token request in ``protocol``."""
    if protocol == "anthropic":
        return "messages", {
            "model": model,
            "max_tokens": 1,
            "messages": [{"role": "user", "content": _PING}],
        }
    if protocol == "gemini":
        return "generateContent", {
            "contents": [{"role": "user", "parts": [{"text": _PING}]}],
            "generationConfig": {"maxOutputTokens": 1},
        }
    return "chat", {
        "model": model,
        "max_tokens": 1,
        "messages": [{"role": "user", "content": _PING}],
    }


def probe_call(protocol: Protocol, model: str) -> Call:
    operation, data = probe_body(protocol, model)
    return Call(
        protocol=protocol,
        operation=operation,
        model=model,
        body=orjson.dumps(data),
        data=data,
        stream=False,
        headers={},
        request_id="probe-" + os.urandom(6).hex(),
        started=time.perf_counter(),
        path="",
    )
