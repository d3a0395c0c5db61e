"""OpenAI Chat Completions request <-> IRRequest."""

from __future__ import annotations

from typing import Any

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
from turnout.protocols.openai.messages import PROTOCOL, messages_from_ir, messages_to_ir
from turnout.protocols.policy import check_extras

_MAPPED = {
    "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p",
    "max_tokens", "max_completion_tokens", "stop", "seed", "presence_penalty",
    "frequency_penalty", "n", "stream", "response_format", "reasoning_effort", "user", "metadata",
}  # fmt: skip


def _tool_choice_to_ir(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        mode = {"auto": "auto", "none": "none", "required": "required"}.get(value)
        if mode is None:
            raise TranslationError("tool_choice", f"unknown value {value!r}")
        return ToolChoice(mode)  # type: ignore[arg-type]
    if value.get("type") == "function":
        return ToolChoice("tool", name=(value.get("function") or {}).get("name"))
    if value.get("type") == "allowed_tools":
        spec = value.get("allowed_tools") or {}
        names = [t.get("function", {}).get("name") for t in spec.get("tools", [])]
        mode = "required" if spec.get("mode") == "required" else "auto"
        return ToolChoice(mode, allowed=[n for n in names if n])  # type: ignore[arg-type]
    raise TranslationError("tool_choice", f"unsupported tool_choice type {value.get('type')!r}")


def _tools_to_ir(tools: list[JSON]) -> list[Tool]:
    out: list[Tool] = []
    for i, tool in enumerate(tools):
        if tool.get("type", "function") != "function":
            raise TranslationError(
                f"tools[{i}].type",
                f"{tool.get('type')!r} tools cannot be translated; only function tools can",
            )
        fn = tool.get("function") or {}
        extra = {
            k: v for k, v in fn.items() if k not in ("name", "description", "parameters", "strict")
        }
        out.append(
            Tool(
                name=fn.get("name", ""),
                description=fn.get("description"),
                parameters=fn.get("parameters"),
                strict=fn.get("strict"),
                extras=extra or None,
            )
        )
    return out


def _response_format_to_ir(value: JSON | None) -> ResponseFormat | None:
    if not value:
        return None
    kind = value.get("type")
    if kind == "json_schema":
        spec = value.get("json_schema") or {}
        return ResponseFormat(
            "json_schema",
            schema=spec.get("schema"),
            name=spec.get("name"),
            strict=spec.get("strict"),
            description=spec.get("description"),
        )
    if kind in ("json_object", "text"):
        return ResponseFormat(kind)
    raise TranslationError("response_format.type", f"unsupported value {kind!r}")


def _reasoning_to_ir(effort: str | None) -> Reasoning | None:
    """OpenAI clients see reasoning as ``reasoning_content``, so thoughts are requested."""
    if not effort:
        return None
    if effort == "none":
        return Reasoning(enabled=False, effort=effort)
    return Reasoning(enabled=True, effort=effort, include_thoughts=True)


def to_ir(body: JSON) -> IRRequest:
    system, messages = messages_to_ir(body.get("messages") or [])
    stop = body.get("stop")
    effort = body.get("reasoning_effort")
    extras = {k: v for k, v in body.items() if k not in _MAPPED}
    if "max_tokens" in body and "max_completion_tokens" not in body:
        extras["_max_tokens_key"] = "max_tokens"
    stream_options = body.get("stream_options") or {}
    return IRRequest(
        model=body.get("model", ""),
        source=PROTOCOL,
        messages=messages,
        system=system,
        tools=_tools_to_ir(body.get("tools") or []),
        tool_choice=_tool_choice_to_ir(body.get("tool_choice")),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        sampling=Sampling(
            max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
            stop=[stop] if isinstance(stop, str) else stop,
            seed=body.get("seed"),
            presence_penalty=body.get("presence_penalty"),
            frequency_penalty=body.get("frequency_penalty"),
            n=body.get("n"),
        ),
        response_format=_response_format_to_ir(body.get("response_format")),
        reasoning=_reasoning_to_ir(effort),
        stream=bool(body.get("stream")),
        include_usage=bool(stream_options.get("include_usage")),
        user=body.get("user"),
        metadata=body.get("metadata"),
        extras=extras,
    )


# -- IR -> OpenAI ------------------------------------------------------------------------------


def _tool_choice_from_ir(choice: ToolChoice) -> Any:
    if choice.allowed:
        tools = [{"type": "function", "function": {"name": n}} for n in choice.allowed]
        mode = "required" if choice.mode == "required" else "auto"
        return {"type": "allowed_tools", "allowed_tools": {"mode": mode, "tools": tools}}
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def _tool_from_ir(tool: Tool, same: bool) -> JSON:
    fn: JSON = {"name": tool.name}
    if tool.description is not None:
        fn["description"] = tool.description
    if tool.parameters is not None:
        fn["parameters"] = tool.parameters
    if tool.strict is not None:
        fn["strict"] = tool.strict
    if same and tool.extras:
        fn.update(tool.extras)
    return {"type": "function", "function": fn}


def _response_format_from_ir(fmt: ResponseFormat) -> JSON:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    spec: JSON = {"name": fmt.name or "response", "schema": fmt.schema or {}}
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    if fmt.description is not None:
        spec["description"] = fmt.description
    return {"type": "json_schema", "json_schema": spec}


def _effort(reasoning: Reasoning) -> str | None:
    if reasoning.enabled is False:
        return "none" if reasoning.effort == "none" else None
    if reasoning.effort:
        return reasoning.effort
    if reasoning.enabled or reasoning.budget_tokens:
        return budget_to_effort(reasoning.budget_tokens)
    return None


def from_ir(req: IRRequest, upstream_model: str) -> JSON:
    same = req.source == PROTOCOL
    check_extras(req, PROTOCOL)
    s = req.sampling
    if s.top_k is not None and not same:
        raise TranslationError("top_k", "OpenAI has no top_k sampling parameter")
    if s.n not in (None, 1) and not same:
        raise TranslationError("n", "translated responses carry a single choice")
    body: JSON = {
        "model": upstream_model,
        "messages": messages_from_ir(req.system, req.messages, same),
    }
    if req.tools:
        body["tools"] = [_tool_from_ir(t, same) for t in req.tools]
    if req.tool_choice is not None:
        body["tool_choice"] = _tool_choice_from_ir(req.tool_choice)
    if req.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if s.max_tokens is not None:
        body[req.extras.get("_max_tokens_key", "max_completion_tokens")] = s.max_tokens
    for key, value in (
        ("temperature", s.temperature), ("top_p", s.top_p), ("seed", s.seed),
        ("presence_penalty", s.presence_penalty), ("frequency_penalty", s.frequency_penalty),
        ("n", s.n),
    ):  # fmt: skip
        if value is not None:
            body[key] = value
    if s.stop:
        body["stop"] = s.stop
    if req.response_format is not None:
        body["response_format"] = _response_format_from_ir(req.response_format)
    if req.reasoning is not None and (effort := _effort(req.reasoning)):
        body["reasoning_effort"] = effort
    if req.stream:
        body["stream"] = True
        # Usage is always requested upstream: other clients' dialects need it at the end.
        body["stream_options"] = {"include_usage": True}
    if req.user is not None:
        body["user"] = req.user
    if same:
        if req.metadata is not None:
            body["metadata"] = req.metadata
        body.update((k, v) for k, v in req.extras.items() if not k.startswith("_"))
        if req.stream:
            body["stream_options"] = {
                **(req.extras.get("stream_options") or {}),
                "include_usage": True,
            }
    return body
