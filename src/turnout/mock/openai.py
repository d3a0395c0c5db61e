"""OpenAI dialect of the mock: chat completions, embeddings, models, errors.

Shapes follow docs/protocols.md §1 and pass the official SDK with
``_strict_response_validation=True``: every required field is present, ``usage`` always
adds up, ``arguments`` is a JSON string, and stream chunks carry ``usage: null`` only when
the client asked for the usage chunk.
"""

from __future__ import annotations

import time
from typing import Any, Final

import orjson

from turnout.mock.content import (
    EMBEDDING_DIMS,
    embedding,
    embedding_base64,
    estimate_tokens,
    scan_prompt,
)
from turnout.mock.plan import (
    Facts,
    Plan,
    RequestError,
    ToolSpec,
    result_text,
    split_fragments,
    text_of,
)

MODELS: Final = ("mock-gpt-4o", "mock-gpt-4o-mini", "mock-o3", "mock-text-embedding-3-small")
_CREATED: Final = 1_700_000_000
_ERROR_TYPES: Final = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout_error", None),
    409: ("conflict_error", None),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def _positive_int(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(f"Invalid '{key}': expected an integer >= 1.", key)
    return value


def read_chat(obj: dict[str, Any]) -> Facts:
    """Read a chat completion request; raise :class:`RequestError` where OpenAI answers 400."""
    model = obj.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("you must provide a model parameter", "model")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty array.", "messages")
    facts = Facts(model=model, stream=obj.get("stream") is True)
    options = obj.get("stream_options")
    facts.include_usage = isinstance(options, dict) and options.get("include_usage") is True
    facts.max_tokens = _positive_int(obj, "max_completion_tokens") or _positive_int(
        obj, "max_tokens"
    )
    tools = obj.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            fn = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                facts.tools.append(ToolSpec(fn["name"], fn.get("parameters") or {}))
    choice = obj.get("tool_choice")
    if choice == "none":
        facts.tools_forbidden = True
    elif choice == "required":
        facts.tool_required = True
    elif isinstance(choice, dict):
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            facts.forced_tool = fn["name"]
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") == "tool":
        facts.tool_result = result_text(last.get("content"))
    last_user = next(
        (m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), None
    )
    facts.prompt = text_of(last_user.get("content")) if last_user is not None else ""
    _read_format(obj.get("response_format"), facts)
    effort = obj.get("reasoning_effort")
    facts.thinking = isinstance(effort, str) and effort != "none"
    scan = scan_prompt(messages, _is_image)
    facts.prompt_chars, facts.images, facts.signatures = scan.chars, scan.images, scan.signatures
    return facts


def _read_format(spec: Any, facts: Facts) -> None:
    """``response_format``: ``json_schema`` (the answer validates against it) or
    ``json_object`` (any JSON object)."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "json_object":
        facts.json_output = True
    elif kind == "json_schema":
        facts.json_output = True
        inner = spec.get("json_schema")
        schema = inner.get("schema") if isinstance(inner, dict) else None
        facts.output_schema = schema if isinstance(schema, dict) else None


def _is_image(part: dict[str, Any]) -> bool:
    return part.get("type") in ("image_url", "input_image")


def _finish_reason(plan: Plan) -> str:
    if plan.tool_call is not None:
        return "tool_calls"
    return "length" if plan.truncated else "stop"


def _usage(plan: Plan) -> dict[str, Any]:
    completion = plan.completion_tokens
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": plan.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": plan.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_body(plan: Plan) -> bytes:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if plan.tool_call is not None else plan.text,
        "refusal": None,
        "annotations": [],
    }
    if (call := plan.tool_call) is not None:
        message["tool_calls"] = [
            {
                "id": f"call_{plan.uid}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
        ]
    return orjson.dumps(
        {
            "id": f"chatcmpl-{plan.uid}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": plan.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": _finish_reason(plan),
                }
            ],
            "usage": _usage(plan),
            "service_tier": "default",
            "system_fingerprint": "fp_mock",
        }
    )


def chat_frames(plan: Plan, include_usage: bool) -> list[bytes]:
    """One role chunk, one chunk per token (or argument fragment), finish, usage, [DONE]."""
    head: dict[str, Any] = {
        "id": f"chatcmpl-{plan.uid}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": plan.model,
        "service_tier": "default",
        "system_fingerprint": "fp_mock",
    }
    if include_usage:
        head["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + orjson.dumps({**head, "choices": [choice]}) + b"\n\n"

    frames: list[bytes] = []
    if (call := plan.tool_call) is not None:
        first = {
            "index": 0,
            "id": f"call_{plan.uid}",
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        frames.append(chunk({"role": "assistant", "content": None, "tool_calls": [first]}))
        for piece in split_fragments(call.arguments_json, 3):
            frames.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        frames.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        frames.extend(chunk({"content": piece}) for piece in plan.pieces)
    frames.append(chunk({}, _finish_reason(plan)))
    if include_usage:
        usage_chunk = {**head, "choices": [], "usage": _usage(plan)}
        frames.append(b"data: " + orjson.dumps(usage_chunk) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    return frames


def embeddings_body(obj: dict[str, Any]) -> tuple[str, bytes]:
    """Answer ``/v1/embeddings``; returns the model (for echo headers) and the body."""
    model = obj.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("you must provide a model parameter", "model")
    raw = obj.get("input")
    if isinstance(raw, str) or (
        isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw)
    ):
        inputs: list[Any] = [raw]
    elif isinstance(raw, list) and raw:
        inputs = raw
    else:
        raise RequestError("'input' must be a non-empty string or array.", "input")
    dims = obj.get("dimensions")
    if dims is None:
        dims = EMBEDDING_DIMS
    elif isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= 4096:
        raise RequestError("'dimensions' must be an integer within 1..4096.", "dimensions")
    as_base64 = obj.get("encoding_format") == "base64"
    data, tokens = [], 0
    for i, item in enumerate(inputs):
        text = item if isinstance(item, str) else orjson.dumps(item).decode()
        tokens += len(item) if isinstance(item, list) else estimate_tokens(len(text))
        vector = embedding(text, dims)
        value: Any = embedding_base64(vector) if as_base64 else vector
        data.append({"object": "embedding", "index": i, "embedding": value})
    body = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return model, orjson.dumps(body)


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": "turnout-mock"}


def models_body() -> bytes:
    return orjson.dumps({"object": "list", "data": [_model(m) for m in MODELS]})


def model_body(model_id: str) -> bytes:
    return orjson.dumps(_model(model_id))


def _error(status: int, message: str, param: str | None) -> dict[str, Any]:
    kind, code = _ERROR_TYPES.get(status, ("server_error" if status >= 500 else "api_error", None))
    return {"message": message, "type": kind, "param": param, "code": code}


def error_body(status: int, message: str, param: str | None = None) -> bytes:
    return orjson.dumps({"error": _error(status, message, param)})


def error_frame() -> bytes:
    """The in-band error OpenAI sends mid-stream; the SDK raises ``APIError`` on it."""
    err = _error(500, "The server had an error while processing your request.", None)
    return b"data: " + orjson.dumps({"error": err}) + b"\n\n"


def garbage_frame() -> bytes:
    return b'data: {"id": "chatcmpl-broken", "choices": [{"delta": \n\n'
