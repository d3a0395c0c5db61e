"""JSON-RPC 2.0 as A2A uses it: reading a caller's request envelope, and the gateway's own
errors in JSON-RPC form.

Only the envelope is read (``jsonrpc``, ``id``, ``method``, ``params``); the params go to the
agent as the caller sent them. Method names of both A2A versions the official SDK speaks (1.0:
``SendMessage``…, 0.3: ``message/send``…) are known, so that governance can tell a message
from a task query and a stream from a single answer; an unknown method is still relayed (the
agent answers ``-32601`` itself) and logged as ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from turnout.errors import (
    AuthenticationFailed,
    AuthUnavailable,
    BadRequest,
    GatewayError,
    LimitsUnavailable,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    UpstreamInvalid,
    UpstreamTimeout,
    UpstreamUnavailable,
)

# method → (kind, streams): kind "message" counts against the per-task message budget,
# "push" carries a caller's push-notification URL, "task" and "card" are queries.
METHODS: dict[str, tuple[str, bool]] = {
    # A2A 1.0
    "SendMessage": ("message", False),
    "SendStreamingMessage": ("message", True),
    "GetTask": ("task", False),
    "ListTasks": ("task", False),
    "CancelTask": ("task", False),
    "SubscribeToTask": ("task", True),
    "CreateTaskPushNotificationConfig": ("push", False),
    "GetTaskPushNotificationConfig": ("task", False),
    "ListTaskPushNotificationConfigs": ("task", False),
    "DeleteTaskPushNotificationConfig": ("task", False),
    "GetExtendedAgentCard": ("card", False),
    # A2A 0.3
    "message/send": ("message", False),
    "message/stream": ("message", True),
    "tasks/get": ("task", False),
    "tasks/list": ("task", False),
    "tasks/cancel": ("task", False),
    "tasks/resubscribe": ("task", True),
    "tasks/pushNotificationConfig/set": ("push", False),
    "tasks/pushNotificationConfig/get": ("task", False),
    "tasks/pushNotificationConfig/list": ("task", False),
    "tasks/pushNotificationConfig/delete": ("task", False),
    "agent/getAuthenticatedExtendedCard": ("card", False),
}

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TASK_NOT_FOUND = -32001  # A2A's TaskNotFoundError
INVALID_AGENT_RESPONSE = -32006  # A2A's own code for an agent that answered nonsense
# The gateway's own codes, in JSON-RPC's implementation-defined range (-32000..-32099) and
# clear of A2A's (-32001..-32009). ``data.type`` names the gateway error as well.
GATEWAY_CODES: tuple[tuple[type[GatewayError], int], ...] = (
    (AuthenticationFailed, -32040),
    (PermissionDenied, -32043),
    (NotFound, -32044),
    (PayloadTooLarge, -32013),
    (RateLimited, -32029),
    (LimitsUnavailable, -32053),
    (AuthUnavailable, -32053),
    (UpstreamInvalid, INVALID_AGENT_RESPONSE),
    (UpstreamTimeout, -32054),
    (UpstreamUnavailable, -32052),
)


class BudgetSpent(RateLimited):
    """The task had all the messages its agent's ``max_messages_per_task`` allows: a loop
    between agents is stopped here. Retrying cannot help."""

    code = "task_message_budget"
    retryable = False


class NotReady(GatewayError):
    status = 503
    type = "unavailable"
    retryable = True
    log_level = "info"


class TaskNotFound(GatewayError):
    """A task the caller's key does not hold (:mod:`turnout.a2a.owners`): answered exactly as
    an A2A agent answers an unknown task (HTTP 200, ``-32001`` "Task not found"), so it tells
    the caller nothing about whether the task exists."""

    status = 200
    type = "not_found_error"
    code = "task_not_found"
    log_level = "info"

    def __init__(self) -> None:
        super().__init__("Task not found")


class ContextNotFound(GatewayError):
    """A message naming a context (``contextId``) the caller's key does not hold
    (:mod:`turnout.a2a.owners`): answered as an A2A server answers a context it will not
    continue (HTTP 200, JSON-RPC ``-32602`` "Invalid params"), the same whether the context
    is another key's or unknown, so it tells the caller nothing about other keys."""

    status = 200
    type = "invalid_request_error"
    code = "context_not_found"
    log_level = "info"

    def __init__(self) -> None:
        super().__init__("Invalid params: unknown contextId (omit it to start a new context)")


class JSONParseError(BadRequest):
    code = "parse_error"


@dataclass(frozen=True, slots=True)
class Envelope:
    id: Any  # str | int | None, echoed in every answer
    method: str
    params: dict[str, Any]
    kind: str  # see METHODS; "other" for a method the gateway does not know
    streams: bool
    notification: bool  # no "id": JSON-RPC expects no answer (A2A never sends these)

    @property
    def label(self) -> str:
        """The method as logs and metrics name it: a known name, or ``other`` (bounded)."""
        return self.method if self.kind != "other" else "other"


def read_envelope(body: bytes) -> Envelope:
    """The request's envelope, or BadRequest in the words JSON-RPC uses for it."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise JSONParseError("Parse error: the body is not JSON") from None
    if isinstance(data, list):
        raise BadRequest("Invalid Request: batches are not part of A2A")
    if not isinstance(data, dict):
        raise BadRequest("Invalid Request: expected a JSON-RPC request object")
    if data.get("jsonrpc") != "2.0":
        raise BadRequest('Invalid Request: "jsonrpc" must be "2.0"')
    rid = data.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int)):
        raise BadRequest('Invalid Request: "id" must be a string or a number')
    method = data.get("method")
    if not isinstance(method, str) or not method:
        raise BadRequest('Invalid Request: "method" must be a string')
    params = data.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise BadRequest('Invalid params: "params" must be an object')
    kind, streams = METHODS.get(method, ("other", False))
    return Envelope(rid, method, params, kind, streams, "id" not in data)


def request_id_of(body: bytes) -> Any:
    """The id of a request the gateway refuses before reading it whole (best effort)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    rid = data.get("id") if isinstance(data, dict) else None
    return rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None


def code_of(err: GatewayError) -> int:
    if isinstance(err, NotReady):
        return -32053
    if isinstance(err, TaskNotFound):
        return TASK_NOT_FOUND
    if isinstance(err, ContextNotFound):
        return INVALID_PARAMS
    if isinstance(err, JSONParseError):
        return PARSE_ERROR
    if isinstance(err, BadRequest):
        return INVALID_REQUEST
    for cls, code in GATEWAY_CODES:
        if isinstance(err, cls):
            return code
    return INTERNAL_ERROR


def error_object(err: GatewayError) -> dict[str, Any]:
    data: dict[str, Any] = {"type": err.code or err.type, "status": err.status}
    if err.retry_after is not None:
        data["retry_after"] = max(1, round(err.retry_after))
    return {"code": code_of(err), "message": err.message, "data": data}


def error_body(err: GatewayError, rid: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": rid, "error": error_object(err)})


def error_event(err: GatewayError, rid: Any) -> bytes:
    """The SSE event that ends a stream the gateway could not finish: a JSON-RPC error
    response as the event's data (what A2A servers send, and what both SDK versions raise)."""
    return b"data: " + error_body(err, rid) + b"\n\n"
