"""The model API's route table: every registered protocol's routes, the model lists, health.

Exact paths sit in one dict per method, looked up once per request; paths that name the model
(Gemini's ``/v1beta/models/{model}:action``) are matched by prefix once the exact lookup missed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from turnout.api import health
from turnout.api.endpoint import Inbound, serve
from turnout.api.models import list_models
from turnout.auth.guard import guard_client_route
from turnout.protocols.descriptor import ModelPaths, WireProtocol
from turnout.protocols.descriptor import Route as ProtocolRoute
from turnout.protocols.registry import PROTOCOLS
from turnout.router.feedback import Feedback
from turnout.state import GatewayState
from turnout.types import Receive, Scope, Send

Route = Callable[[Scope, Receive, Send], Awaitable[None]]
ModelRoutes = list[tuple[ModelPaths, dict[str, Route]]]


def client_routes(s: GatewayState) -> tuple[dict[str, Route], dict[str, Route], ModelRoutes]:
    """POST routes, GET routes, and the by-prefix model paths."""

    def inbound(wire: WireProtocol, route: ProtocolRoute) -> Route:
        found = Inbound(wire, route.operation, route.locate, route.usage, route.parse, route.stream)
        return partial(serve, s, found)

    def plain(fn: Callable[..., Awaitable[None]]) -> Route:
        return partial(fn, s)

    post: dict[str, Route] = {}
    model_paths: ModelRoutes = []
    for wire in PROTOCOLS.values():
        for path, route in wire.routes.items():
            post[path] = inbound(wire, route)
        if wire.model_paths is not None:
            actions = {a: inbound(wire, r) for a, r in wire.model_paths.actions.items()}
            model_paths.append((wire.model_paths, actions))
    post["/v1/feedback"] = guard_client_route(s, Feedback(s))  # learned routing's labels
    get: dict[str, Route] = {
        "/v1/models": guard_client_route(s, plain(list_models)),
        "/models": guard_client_route(s, plain(list_models)),
        "/v1beta/models": guard_client_route(s, plain(list_models)),  # Gemini's shape
        "/healthz": plain(health.healthz),
        "/readyz": plain(health.readyz),
    }
    return post, get, model_paths
