"""Responses API request <-> IRRequest.

Built-in tools (web search, file search, code interpreter, computer use, ...) run inside
OpenAI: a request that offers one to another provider is refused with a 400 naming the tool,
never sent without it.
"""

from __future__ import annotations

from typing import Any

from turnout.errors import PreviousResponseNotFound
from turnout.ir import (
    JSON,
    IRRequest,
    Reasoning,
    ResponseFormat,
    Sampling,
    Tool,
    ToolChoice,
    TranslationError,
)
from turnout.protocols._shared import budget_to_effort
from turnout.protocols.policy import check_extras
from turnout.protocols.responses.items import PROTOCOL, items_from_ir, items_to_ir

_MAPPED = {
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
    "temperature", "top_p", "max_output_tokens", "stream", "text", "reasoning", "user",
    "metadata",
}  # fmt: skip
_OPENAI_ONLY = "is run by OpenAI itself; route this model to an OpenAI provider"


def _tools_to_ir(tools: list[JSON]) -> list[Tool]:
    out: list[Tool] = []
    for i, tool in enumerate(tools):
        kind = tool.get("type", "function")
        if kind != "function":
            raise TranslationError(f"tools[{i}].type", f"the {kind!r} tool {_OPENAI_ONLY}")
        out.append(
            Tool(
                name=tool.get("name", ""),
                description=tool.get("description"),
                parameters=tool.get("parameters"),
                strict=tool.get("strict"),
            )
        )
    return out


def _tool_choice_to_ir(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise TranslationError("tool_choice", f"unknown value {value!r}")
        return ToolChoice(value)  # type: ignore[arg-type]
    kind = value.get("type")
    if kind == "function":
        return ToolChoice("tool", name=value.get("name"))
    if kind == "allowed_tools":
        names = [t.get("name") for t in value.get("tools") or () if t.get("type") == "function"]
        mode = "required" if value.get("mode") == "required" else "auto"
        return ToolChoice(mode, allowed=[n for n in names if n])  # type: ignore[arg-type]
    raise TranslationError("tool_choice", f"the {kind!r} tool {_OPENAI_ONLY}")


def _format_to_ir(text: JSON | None) -> ResponseFormat | None:
    fmt = (text or {}).get("format")
    if not fmt:
        return None
    kind = fmt.get("type")
    if kind == "json_schema":
        return ResponseFormat(
            "json_schema",
            schema=fmt.get("schema"),
            name=fmt.get("name"),
            strict=fmt.get("strict"),
            description=fmt.get("description"),
        )
    if kind in ("json_object", "text"):
        return ResponseFormat(kind)
    raise TranslationError("text.format.type", f"unsupported value {kind!r}")


def _reasoning_to_ir(value: JSON | None) -> Reasoning | None:
    """An effort turns reasoning on; its text comes back as reasoning items' summaries."""
    effort = (value or {}).get("effort")
    if not effort:
        return None
    if effort == "none":
        return Reasoning(enabled=False, effort=effort)
    return Reasoning(enabled=True, effort=effort, include_thoughts=True)


_STORED_STATE = (
    "continues a conversation stored at OpenAI, which this provider cannot see; send the whole "
    "conversation as `input` (with `store: false`) or route this model to an OpenAI provider"
)


_BACKGROUND = (
    "asks for a response run in the background (polled by id, cancellable), which only an "
    "OpenAI upstream can do; send the request without `background`, or route this model to an "
    "OpenAI provider"
)


def to_ir(body: JSON) -> IRRequest:
    previous = body.get("previous_response_id")
    if previous:  # the gateway's conversation step expands the ids it holds
        raise PreviousResponseNotFound(
            f"Previous response with id '{str(previous)[:100]}' not found.",
            param="previous_response_id",
        )
    if body.get("conversation"):
        raise TranslationError("conversation", _STORED_STATE)
    if body.get("background"):
        raise TranslationError("background", _BACKGROUND)
    system, messages = items_to_ir(body.get("input"), body.get("instructions"))
    return IRRequest(
        model=body.get("model", ""),
        source=PROTOCOL,
        messages=messages,
        system=system,
        tools=_tools_to_ir(body.get("tools") or []),
        tool_choice=_tool_choice_to_ir(body.get("tool_choice")),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        sampling=Sampling(
            max_tokens=body.get("max_output_tokens"),
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
        ),
        response_format=_format_to_ir(body.get("text")),
        reasoning=_reasoning_to_ir(body.get("reasoning")),
        stream=bool(body.get("stream")),
        include_usage=True,  # a Responses stream always ends with its usage
        user=body.get("user"),
        metadata=body.get("metadata"),
        extras={k: v for k, v in body.items() if k not in _MAPPED},
    )


# -- IR -> Responses ---------------------------------------------------------------------------


def _tool_choice_from_ir(choice: ToolChoice) -> Any:
    if choice.allowed:
        tools = [{"type": "function", "name": n} for n in choice.allowed]
        mode = "required" if choice.mode == "required" else "auto"
        return {"type": "allowed_tools", "mode": mode, "tools": tools}
    if choice.mode == "tool":
        return {"type": "function", "name": choice.name}
    return choice.mode


def _tool_from_ir(tool: Tool) -> JSON:
    out: JSON = {"type": "function", "name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["parameters"] = tool.parameters or {"type": "object", "properties": {}}
    out["strict"] = bool(tool.strict)
    return out


def _format_from_ir(fmt: ResponseFormat) -> JSON:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    out: JSON = {"type": "json_schema", "name": fmt.name or "response", "schema": fmt.schema or {}}
    if fmt.strict is not None:
        out["strict"] = fmt.strict
    if fmt.description is not None:
        out["description"] = fmt.description
    return out


def _effort(value: Reasoning) -> str | None:
    if value.enabled is False:
        return "none" if value.effort == "none" else None
    if value.effort:
        return value.effort
    if value.enabled or value.budget_tokens:
        return budget_to_effort(value.budget_tokens)
    return None


def from_ir(req: IRRequest, upstream_model: str) -> JSON:
    """A stateless request (``store: false``): the gateway, not OpenAI, keeps the history."""
    check_extras(req, PROTOCOL)
    s = req.sampling
    unsupported: tuple[tuple[str, object], ...] = (
        ("top_k", s.top_k), ("stop", s.stop), ("seed", s.seed),
        ("presence_penalty", s.presence_penalty), ("frequency_penalty", s.frequency_penalty),
    )  # fmt: skip
    for name, value in unsupported:
        if value:
            raise TranslationError(name, "the Responses API has no such parameter")
    if s.n not in (None, 1):
        raise TranslationError("n", "translated responses carry a single choice")
    body: JSON = {"model": upstream_model, "input": items_from_ir(req.messages), "store": False}
    if req.system:
        body["instructions"] = "\n\n".join(p.text for p in req.system)
    if req.tools:
        body["tools"] = [_tool_from_ir(t) for t in req.tools]
    if req.tool_choice is not None:
        body["tool_choice"] = _tool_choice_from_ir(req.tool_choice)
    if req.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if s.max_tokens is not None:
        body["max_output_tokens"] = s.max_tokens
    if s.temperature is not None:
        body["temperature"] = s.temperature
    if s.top_p is not None:
        body["top_p"] = s.top_p
    if req.response_format is not None:
        body["text"] = {"format": _format_from_ir(req.response_format)}
    if req.reasoning is not None and (effort := _effort(req.reasoning)):
        body["reasoning"] = {"effort": effort, "summary": "auto"}
    if req.stream:
        body["stream"] = True
    if req.user is not None:
        body["user"] = req.user
    return body
