"""Liveness and readiness, for load balancers and orchestrators.

Readiness turns false the moment a drain starts, so a load balancer stops sending new work
while in-flight streams finish.
"""

from __future__ import annotations

import orjson

from turnout.api.io import JSON, send_bytes
from turnout.state import GatewayState
from turnout.types import Receive, Scope, Send


async def healthz(state: GatewayState, scope: Scope, receive: Receive, send: Send) -> None:
    await send_bytes(send, 200, [JSON], b'{"status":"ok"}')


async def readyz(state: GatewayState, scope: Scope, receive: Receive, send: Send) -> None:
    runtime = state.runtime
    usable = sum(
        1
        for route in (*runtime.models.values(), *runtime.patterns)
        for d in route.deployments
        if d.provider in state.providers
    )
    if state.draining:
        status, reason = 503, "draining"
    elif not state.ready:
        status, reason = 503, "starting"
    elif usable == 0:
        status, reason = 503, "no usable deployment"
    else:
        status, reason = 200, "ready"
    body = orjson.dumps({"status": reason, "deployments": usable})
    await send_bytes(send, status, [JSON], body)
