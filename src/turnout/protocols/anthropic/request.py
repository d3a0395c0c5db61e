"""Anthropic Messages request <-> IRRequest.

JSON mode has no universal native equivalent on Anthropic, so ``response_format`` becomes a
forced tool named :data:`JSON_TOOL_NAME` whose input the response side turns back into text.
With extended thinking (which forbids forced tools) ``output_config.format`` is used instead;
JSON mode together with client tools and no thinking raises a TranslationError.
"""

from __future__ import annotations

from typing import Any

from turnout.ir import (
    JSON,
    IRRequest,
    Reasoning,
    ResponseFormat,
    Sampling,
    TextPart,
    Tool,
    ToolChoice,
    TranslationError,
)
from turnout.protocols._shared import effort_to_budget
from turnout.protocols.anthropic.messages import (
    JSON_TOOL_NAME,
    PROTOCOL,
    messages_from_ir,
    messages_to_ir,
    system_from_ir,
    system_to_ir,
)
from turnout.protocols.policy import check_extras

DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires max_tokens; OpenAI and Gemini clients may omit it."""

_MAPPED = {
    "model", "messages", "system", "max_tokens", "metadata", "stop_sequences", "stream",
    "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "output_config",
    "output_format",
}  # fmt: skip


def _tools_to_ir(tools: list[JSON]) -> list[Tool]:
    out = []
    for tool in tools:
        if tool.get("type", "custom") != "custom":
            out.append(Tool(tool.get("name", ""), extras={"_raw": tool}))
            continue
        extra = {
            k: v
            for k, v in tool.items()
            if k not in ("name", "description", "input_schema", "cache_control", "type")
        }
        out.append(
            Tool(
                tool.get("name", ""),
                tool.get("description"),
                tool.get("input_schema"),
                tool.get("strict"),
                tool.get("cache_control"),
                extra or None,
            )
        )
    return out


def _tool_choice_to_ir(choice: JSON | None) -> tuple[ToolChoice | None, bool | None]:
    if not choice:
        return None, None
    parallel = False if choice.get("disable_parallel_tool_use") else None
    kind = choice.get("type")
    if kind == "any":
        return ToolChoice("required"), parallel
    if kind == "tool":
        return ToolChoice("tool", name=choice.get("name")), parallel
    if kind in ("auto", "none"):
        return ToolChoice(kind), parallel
    raise TranslationError("tool_choice.type", f"unsupported value {kind!r}")


def _reasoning_to_ir(body: JSON) -> Reasoning | None:
    thinking: JSON = body.get("thinking") or {}
    effort = (body.get("output_config") or {}).get("effort")
    kind = thinking.get("type")
    if kind == "enabled":
        return Reasoning(True, thinking.get("budget_tokens"), effort, include_thoughts=True)
    if kind == "adaptive":
        return Reasoning(True, None, effort, include_thoughts=True)
    if kind == "disabled":
        return Reasoning(False, effort=effort)
    return Reasoning(effort=effort) if effort else None


def _format_to_ir(body: JSON) -> ResponseFormat | None:
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if not fmt:
        return None
    if fmt.get("type") != "json_schema":
        raise TranslationError("output_config.format.type", f"unsupported {fmt.get('type')!r}")
    return ResponseFormat("json_schema", schema=fmt.get("schema"))


def _json_tool_to_format(tools: list[Tool], choice: ToolChoice | None) -> ResponseFormat | None:
    """Undo our own JSON-mode emulation so a round trip gives back ``response_format``."""
    if choice is None or choice.mode != "tool" or choice.name != JSON_TOOL_NAME:
        return None
    for i, tool in enumerate(tools):
        if tool.name == JSON_TOOL_NAME:
            del tools[i]
            return ResponseFormat("json_schema", schema=tool.parameters)
    return None


def _split_system(messages: list[JSON]) -> tuple[list[JSON], list[TextPart]]:
    """Mid-conversation ``system`` messages (instructions from that turn on; Claude Code sends
    its environment that way) join the system prompt, as OpenAI system messages anywhere in a
    conversation do: no other protocol has them in place, and as a user turn they would pass
    for the user's words."""
    turns: list[JSON] = []
    later: list[TextPart] = []
    for msg in messages:
        if isinstance(msg, dict) and msg.get("role") == "system":
            later.extend(system_to_ir(msg.get("content")))
        else:
            turns.append(msg)
    return turns, later


def to_ir(body: JSON) -> IRRequest:
    choice, parallel = _tool_choice_to_ir(body.get("tool_choice"))
    tools = _tools_to_ir(body.get("tools") or [])
    json_mode = _json_tool_to_format(tools, choice)
    if json_mode is not None:
        choice = None
    metadata = dict(body.get("metadata") or {})
    user = metadata.pop("user_id", None)
    extras = {k: v for k, v in body.items() if k not in _MAPPED}
    config = {
        k: v for k, v in (body.get("output_config") or {}).items() if k not in ("effort", "format")
    }
    if config:
        extras["output_config"] = config
    turns, later = _split_system(body.get("messages") or [])
    return IRRequest(
        model=body.get("model", ""),
        source=PROTOCOL,
        messages=messages_to_ir(turns),
        system=system_to_ir(body.get("system")) + later,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        sampling=Sampling(
            max_tokens=body.get("max_tokens"),
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
            top_k=body.get("top_k"),
            stop=body.get("stop_sequences"),
        ),
        response_format=json_mode or _format_to_ir(body),
        reasoning=_reasoning_to_ir(body),
        stream=bool(body.get("stream")),
        include_usage=True,
        user=user,
        metadata=metadata or None,
        extras=extras,
    )


# -- IR -> Anthropic ---------------------------------------------------------------------------


def _tools_from_ir(req: IRRequest, same: bool) -> list[JSON]:
    allowed = set(req.tool_choice.allowed) if req.tool_choice and req.tool_choice.allowed else None
    out = []
    for i, tool in enumerate(req.tools):
        if tool.extras and "_raw" in tool.extras:
            if not same:
                raise TranslationError(f"tools[{i}]", "server tools cannot be translated")
            out.append(tool.extras["_raw"])
            continue
        if allowed is not None and tool.name not in allowed:
            continue  # Anthropic cannot restrict a choice to a subset: offer only the subset
        item: JSON = {
            "name": tool.name,
            "input_schema": tool.parameters or {"type": "object", "properties": {}},
        }
        if tool.description is not None:
            item["description"] = tool.description
        if tool.cache_control is not None:
            item["cache_control"] = tool.cache_control
        if same:
            if tool.strict is not None:
                item["strict"] = tool.strict
            if tool.extras:
                item.update(tool.extras)
        out.append(item)
    return out


def _tool_choice_from_ir(choice: ToolChoice | None, parallel: bool | None) -> JSON | None:
    if choice is None and parallel is not False:
        return None
    mode = choice.mode if choice else "auto"
    out: JSON = {"type": {"required": "any"}.get(mode, mode)}
    if mode == "tool":
        out["name"] = choice.name if choice else None
    if parallel is False and mode != "none":
        out["disable_parallel_tool_use"] = True
    return out


def _apply_json_mode(req: IRRequest, body: JSON, thinking: bool) -> None:
    fmt = req.response_format
    if fmt is None or fmt.type == "text":
        return
    schema = fmt.schema if fmt.type == "json_schema" and fmt.schema else {"type": "object"}
    if thinking:
        body["output_config"] = {
            **body.get("output_config", {}),
            "format": {"type": "json_schema", "schema": schema},
        }
        return
    if body.get("tools"):
        raise TranslationError(
            "response_format",
            "JSON mode together with tools cannot be translated to Anthropic (no native JSON mode)",
        )
    if schema.get("type", "object") != "object":
        raise TranslationError(
            "response_format.json_schema.schema",
            "Anthropic JSON mode emulation needs an object schema",
        )
    tool: JSON = {
        "name": JSON_TOOL_NAME,
        "input_schema": schema,
        "description": fmt.description or "Return the final answer as this object.",
    }
    body["tools"] = [tool]
    body["tool_choice"] = {"type": "tool", "name": JSON_TOOL_NAME}


def _thinking_from_ir(reasoning: Reasoning | None, body: JSON) -> bool:
    if reasoning is None:
        return False
    if reasoning.enabled is False:
        body["thinking"] = {"type": "disabled"}
        return False
    if not (reasoning.enabled or reasoning.budget_tokens or reasoning.effort):
        return False
    budget = reasoning.budget_tokens or effort_to_budget(reasoning.effort)
    budget = max(budget, 1024)
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if body["max_tokens"] <= budget:
        # OpenAI/Gemini limits cap visible output; Anthropic's must also hold the budget.
        body["max_tokens"] += budget
    return True


def _check_sampling(s: Sampling) -> None:
    if s.n not in (None, 1):
        raise TranslationError("n", "Anthropic returns a single choice")
    for name, value in (
        ("presence_penalty", s.presence_penalty),
        ("frequency_penalty", s.frequency_penalty),
    ):
        if value:
            raise TranslationError(name, "Anthropic has no repetition penalties")


def from_ir(req: IRRequest, upstream_model: str) -> JSON:
    same = req.source == PROTOCOL
    check_extras(req, PROTOCOL)
    s = req.sampling
    _check_sampling(s)
    body: JSON = {
        "model": upstream_model,
        "max_tokens": s.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages_from_ir(req.messages, same),
    }
    system = system_from_ir(req.system, same)
    if system is not None:
        body["system"] = system
    for key, value in (("temperature", s.temperature), ("top_p", s.top_p), ("top_k", s.top_k)):
        if value is not None:
            body[key] = value
    if s.stop:
        body["stop_sequences"] = s.stop
    tools = _tools_from_ir(req, same)
    if tools:
        body["tools"] = tools
    choice = _tool_choice_from_ir(req.tool_choice, req.parallel_tool_calls)
    if choice is not None and (tools or choice["type"] == "none"):
        body["tool_choice"] = choice
    thinking = _thinking_from_ir(req.reasoning, body)
    if same and req.reasoning and req.reasoning.effort:
        body["output_config"] = {"effort": req.reasoning.effort}
    _apply_json_mode(req, body, thinking)
    if req.stream:
        body["stream"] = True
    metadata: dict[str, Any] = dict(req.metadata or {}) if same else {}
    if req.user is not None:
        metadata["user_id"] = req.user
    if metadata:
        body["metadata"] = metadata
    if same:
        for key, value in req.extras.items():
            if key == "output_config":
                body["output_config"] = {**value, **body.get("output_config", {})}
            elif not key.startswith("_"):
                body[key] = value
    return body
