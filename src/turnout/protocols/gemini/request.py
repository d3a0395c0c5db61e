"""Gemini ``generateContent`` request <-> IRRequest.

The model is not in a Gemini body (it is in the URL): ``to_ir`` takes it as ``model=``;
``from_ir`` ignores ``upstream_model`` for the body (the provider builds the URL from it).
"""

from __future__ import annotations

from turnout.ir import (
    JSON,
    IRRequest,
    Message,
    Reasoning,
    ResponseFormat,
    Role,
    Sampling,
    TextPart,
    Tool,
    ToolChoice,
    TranslationError,
)
from turnout.protocols._shared import effort_to_budget, openapi_to_json_schema
from turnout.protocols.gemini.parts import PROTOCOL, PartReader, g, parts_from_ir
from turnout.protocols.policy import check_extras

_TOP = {
    "contents",
    "systemInstruction",
    "system_instruction",
    "tools",
    "toolConfig",
    "tool_config",
    "generationConfig",
    "generation_config",
    "model",
}
_GEN = {
    "temperature": "temperature", "topP": "top_p", "topK": "top_k",
    "maxOutputTokens": "max_output_tokens", "stopSequences": "stop_sequences", "seed": "seed",
    "presencePenalty": "presence_penalty", "frequencyPenalty": "frequency_penalty",
    "candidateCount": "candidate_count", "responseMimeType": "response_mime_type",
    "responseSchema": "response_schema", "responseJsonSchema": "response_json_schema",
    "thinkingConfig": "thinking_config",
}  # fmt: skip
_SNAKE_TO_CAMEL = {v: k for k, v in _GEN.items()}


def _tools_to_ir(tools: list[JSON]) -> list[Tool]:
    out: list[Tool] = []
    for entry in tools:
        decls = g(entry, "functionDeclarations", "function_declarations")
        if decls is None:
            out.append(Tool(next(iter(entry), "tool"), extras={"_raw": entry}))
            continue
        for decl in decls:
            params = g(decl, "parametersJsonSchema", "parameters_json_schema")
            extras: JSON | None = None
            if params is None and decl.get("parameters") is not None:
                extras = {"parameters": decl["parameters"]}
                params = openapi_to_json_schema(decl["parameters"])
            out.append(Tool(decl.get("name", ""), decl.get("description"), params, extras=extras))
    return out


def _tool_choice_to_ir(config: JSON | None) -> ToolChoice | None:
    fcc = g(config or {}, "functionCallingConfig", "function_calling_config")
    if not fcc:
        return None
    mode = str(fcc.get("mode", "AUTO")).upper()
    allowed = g(fcc, "allowedFunctionNames", "allowed_function_names")
    if mode == "NONE":
        return ToolChoice("none")
    if mode == "ANY":
        if allowed and len(allowed) == 1:
            return ToolChoice("tool", name=allowed[0])
        return ToolChoice("required", allowed=list(allowed) if allowed else None)
    return ToolChoice("auto", allowed=list(allowed) if allowed else None)


def _reasoning_to_ir(config: JSON | None) -> Reasoning | None:
    if not config:
        return None
    budget = g(config, "thinkingBudget", "thinking_budget")
    level = g(config, "thinkingLevel", "thinking_level")
    include = g(config, "includeThoughts", "include_thoughts")
    enabled = None if budget is None else budget != 0
    if level is not None:
        enabled = True
    return Reasoning(
        enabled,
        budget if budget and budget > 0 else None,
        str(level).lower() if level else None,
        include,
    )


def _format_to_ir(gen: JSON) -> ResponseFormat | None:
    mime = gen.get("responseMimeType")
    if mime in (None, "text/plain"):
        return None
    if mime != "application/json":
        raise TranslationError(
            "generationConfig.responseMimeType", f"{mime!r} cannot be translated"
        )
    schema = gen.get("responseJsonSchema")
    if schema is None and gen.get("responseSchema") is not None:
        schema = openapi_to_json_schema(gen["responseSchema"])
    return ResponseFormat("json_schema", schema=schema) if schema else ResponseFormat("json_object")


def to_ir(body: JSON, model: str = "", *, stream: bool = False) -> IRRequest:
    """``model`` and ``stream`` come from the URL (``models/{model}:streamGenerateContent``)."""
    reader = PartReader()
    messages: list[Message] = []
    for content in body.get("contents") or ():
        role: Role = "assistant" if content.get("role") == "model" else "user"
        messages.append(Message(role, reader.parts(content.get("parts") or [])))
    system_obj = g(body, "systemInstruction", "system_instruction")
    system: list[TextPart] = []
    if isinstance(system_obj, str):
        system = [TextPart(system_obj)]
    elif system_obj:
        system = [TextPart(p.get("text", "")) for p in system_obj.get("parts") or ()]
    raw_gen: JSON = g(body, "generationConfig", "generation_config") or {}
    gen = {_SNAKE_TO_CAMEL.get(k, k): v for k, v in raw_gen.items()}
    extras: JSON = {k: v for k, v in body.items() if k not in _TOP}
    extras.update((f"generationConfig.{k}", v) for k, v in gen.items() if k not in _GEN)
    if gen.get("responseSchema") is not None:
        extras["_responseSchema"] = gen["responseSchema"]
    stop = gen.get("stopSequences")
    return IRRequest(
        model=model or body.get("model", ""),
        source=PROTOCOL,
        messages=messages,
        system=system,
        tools=_tools_to_ir(body.get("tools") or []),
        tool_choice=_tool_choice_to_ir(g(body, "toolConfig", "tool_config")),
        sampling=Sampling(
            max_tokens=gen.get("maxOutputTokens"),
            temperature=gen.get("temperature"),
            top_p=gen.get("topP"),
            top_k=gen.get("topK"),
            stop=list(stop) if stop else None,
            seed=gen.get("seed"),
            presence_penalty=gen.get("presencePenalty"),
            frequency_penalty=gen.get("frequencyPenalty"),
            n=gen.get("candidateCount"),
        ),
        response_format=_format_to_ir(gen),
        reasoning=_reasoning_to_ir(gen.get("thinkingConfig")),
        stream=stream,
        include_usage=True,
        extras=extras,
    )


# -- IR -> Gemini ------------------------------------------------------------------------------


def _tools_from_ir(tools: list[Tool], same: bool) -> list[JSON]:
    decls: list[JSON] = []
    raw: list[JSON] = []
    for i, tool in enumerate(tools):
        if tool.extras and "_raw" in tool.extras:
            if not same:
                raise TranslationError(f"tools[{i}]", "only function tools can be translated")
            raw.append(tool.extras["_raw"])
            continue
        decl: JSON = {"name": tool.name}
        if tool.description is not None:
            decl["description"] = tool.description
        if same and tool.extras and "parameters" in tool.extras:
            decl["parameters"] = tool.extras["parameters"]
        elif tool.parameters is not None:
            decl["parametersJsonSchema"] = tool.parameters
        decls.append(decl)
    return ([{"functionDeclarations": decls}] if decls else []) + raw


def _tool_config_from_ir(choice: ToolChoice) -> JSON:
    mode = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}[choice.mode]
    fcc: JSON = {"mode": mode}
    if choice.mode == "tool" and choice.name:
        fcc["allowedFunctionNames"] = [choice.name]
    elif choice.allowed:
        fcc["allowedFunctionNames"] = list(choice.allowed)
    return {"functionCallingConfig": fcc}


def _thinking_from_ir(reasoning: Reasoning, same: bool) -> JSON | None:
    config: JSON = {}
    if reasoning.enabled is False:
        config["thinkingBudget"] = 0
    elif reasoning.budget_tokens:
        config["thinkingBudget"] = reasoning.budget_tokens
    elif reasoning.effort and same:
        config["thinkingLevel"] = reasoning.effort
    elif reasoning.effort:
        config["thinkingBudget"] = effort_to_budget(reasoning.effort)
    elif reasoning.enabled:
        config["thinkingBudget"] = -1  # dynamic
    if reasoning.include_thoughts is not None:
        config["includeThoughts"] = reasoning.include_thoughts
    return config or None


def _generation_config(req: IRRequest, same: bool) -> JSON:
    s = req.sampling
    gen: JSON = {}
    if s.n not in (None, 1):
        if not same:
            raise TranslationError("n", "translated responses carry a single candidate")
        gen["candidateCount"] = s.n
    for key, value in (
        ("maxOutputTokens", s.max_tokens), ("temperature", s.temperature), ("topP", s.top_p),
        ("topK", s.top_k), ("seed", s.seed), ("presencePenalty", s.presence_penalty),
        ("frequencyPenalty", s.frequency_penalty),
    ):  # fmt: skip
        if value is not None:
            gen[key] = value
    if s.stop:
        gen["stopSequences"] = s.stop
    fmt = req.response_format
    if fmt is not None and fmt.type != "text":
        gen["responseMimeType"] = "application/json"
        if same and "_responseSchema" in req.extras:
            gen["responseSchema"] = req.extras["_responseSchema"]
        elif fmt.type == "json_schema" and fmt.schema is not None:
            gen["responseJsonSchema"] = fmt.schema
    if req.reasoning is not None and (thinking := _thinking_from_ir(req.reasoning, same)):
        gen["thinkingConfig"] = thinking
    if same:
        gen.update((k[17:], v) for k, v in req.extras.items() if k.startswith("generationConfig."))
    return gen


def from_ir(req: IRRequest, upstream_model: str = "") -> JSON:
    same = req.source == PROTOCOL
    check_extras(req, PROTOCOL)
    names: dict[str, str] = {}
    contents: list[JSON] = []
    for i, msg in enumerate(req.messages):
        role = "model" if msg.role == "assistant" else "user"
        parts = parts_from_ir(msg.content, f"messages[{i}].content", names)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)  # Gemini wants user/model alternation
        else:
            contents.append({"role": role, "parts": parts})
    body: JSON = {"contents": contents}
    if req.system:
        body["systemInstruction"] = {"parts": [{"text": p.text} for p in req.system]}
    tools = _tools_from_ir(req.tools, same)
    if tools:
        body["tools"] = tools
    if req.tool_choice is not None and tools:
        body["toolConfig"] = _tool_config_from_ir(req.tool_choice)
    gen = _generation_config(req, same)
    if gen:
        body["generationConfig"] = gen
    if same:
        body.update((k, v) for k, v in req.extras.items() if not k.startswith(("_", "generationC")))
    return body


def stream_path_suffix(stream: bool) -> str:
    """Gemini streams only as SSE with ``alt=sse``; the provider appends this to the URL."""
    return ":streamGenerateContent?alt=sse" if stream else ":generateContent"
