"""The cheapest request that tells whether a key works for a model: one output token.

A list-models call would be cheaper still, but it proves neither access to the model nor
remaining quota; a one-token completion proves both, and any answer other than an auth,
quota or rate-limit error (even a 400 for a model that wants other parameters) proves the
key itself is accepted. Each protocol writes its own one-token request (its descriptor's
``probe``).
"""

from __future__ import annotations

import os
import time

import orjson

from turnout.protocols.registry import PROTOCOLS
from turnout.types import Call


def probe_call(protocol: str, model: str) -> Call:
    operation, data = PROTOCOLS[protocol].probe(model)
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
