"""Gemini dialect of the mock: generateContent, streamGenerateContent, countTokens, embeddings.

Shapes follow docs/protocols.md §3. Request fields are read in both spellings the REST
API accepts (``camelCase`` and ``snake_case``) and Gemini ``Schema`` types may be upper case.
Streams are ``data: <json>\\r\\n\\r\\n`` frames with nothing else in them (google-genai
rejects ``event:`` lines and ``[DONE]``); without ``alt=sse`` the same responses are sent
as one JSON array, as the REST API does.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from turnout.mock.content import (
    EMBEDDING_DIMS,
    count_chars,
    embedding,
    estimate_tokens,
    scan_prompt,
    valid_signature,
    walk_dicts,
)
from turnout.mock.plan import Facts, Plan, RequestError, ToolSpec, result_text, user_words

_STATUS: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MEDIA_KEYS: Final = ("inlineData", "inline_data", "fileData", "file_data")


def _get(obj: Any, camel: str, snake: str) -> Any:
    if not isinstance(obj, dict):
        return None
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _is_image(part: dict[str, Any]) -> bool:
    for key in _MEDIA_KEYS:
        media = part.get(key)
        if isinstance(media, dict):
            mime = _get(media, "mimeType", "mime_type")
            return not isinstance(mime, str) or mime.startswith("image/")
    return False


def _prompt_chars(obj: dict[str, Any]) -> int:
    system = _get(obj, "systemInstruction", "system_instruction")
    return count_chars(system) + count_chars(obj.get("contents"))


def read_generate(obj: dict[str, Any], model: str) -> Facts:
    """Read a generateContent request; raise :class:`RequestError` where Gemini answers 400."""
    contents = obj.get("contents")
    if not isinstance(contents, list) or not contents:
        raise RequestError("* GenerateContentRequest.contents: contents is not specified")
    facts = Facts(model=model)
    config = _get(obj, "generationConfig", "generation_config")
    if isinstance(config, dict):
        limit = _get(config, "maxOutputTokens", "max_output_tokens")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise RequestError("maxOutputTokens must be a positive integer")
            facts.max_tokens = limit
        thinking = _get(config, "thinkingConfig", "thinking_config")
        facts.thinking = _get(thinking, "includeThoughts", "include_thoughts") is True
        _read_format(config, facts)
    tools = obj.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        for decl in _get(tool, "functionDeclarations", "function_declarations") or []:
            if isinstance(decl, dict) and isinstance(decl.get("name"), str):
                schema = decl.get("parameters")
                if schema is None:
                    schema = _get(decl, "parametersJsonSchema", "parameters_json_schema")
                facts.tools.append(ToolSpec(decl["name"], schema or {}))
    calling = _get(
        _get(obj, "toolConfig", "tool_config"), "functionCallingConfig", "function_calling_config"
    )
    mode = _get(calling, "mode", "mode")
    if isinstance(mode, str) and mode.upper() == "NONE":
        facts.tools_forbidden = True
    elif isinstance(mode, str) and mode.upper() == "ANY":
        facts.tool_required = True
    allowed = _get(calling, "allowedFunctionNames", "allowed_function_names")
    if isinstance(allowed, list) and allowed and all(isinstance(n, str) for n in allowed):
        # Only these may be called, and one must be (the API allows names with mode ANY only).
        facts.tool_required = True
        kept = [t for t in facts.tools if t.name in allowed]
        if kept:
            facts.tools = kept
        else:
            facts.forced_tool = allowed[0]  # not offered: the 400 real Gemini gives too
    _check_signatures(contents)
    last = contents[-1]
    parts = last.get("parts") if isinstance(last, dict) else None
    results = [
        result_text(_get(_get(p, "functionResponse", "function_response"), "response", "response"))
        for p in (parts if isinstance(parts, list) else [])
        if _get(p, "functionResponse", "function_response") is not None
    ]
    if results:
        facts.tool_result = " ".join(results)
    last_user = next(
        (m for m in reversed(contents) if isinstance(m, dict) and m.get("role", "user") == "user"),
        None,
    )
    facts.prompt = _user_words(last_user) if last_user is not None else ""
    scan = scan_prompt(contents, _is_image)
    system = count_chars(_get(obj, "systemInstruction", "system_instruction"))
    facts.prompt_chars = system + scan.chars
    facts.images, facts.signatures = scan.images, scan.signatures
    return facts


def _check_signatures(contents: list[Any]) -> None:
    """Gemini rejects a thought signature it did not mint (a carrier of another provider's
    state that leaked through, or one a client corrupted)."""
    for part in walk_dicts(contents):
        signature = _get(part, "thoughtSignature", "thought_signature")
        if isinstance(signature, str) and signature and not valid_signature(signature):
            raise RequestError("Corrupted thought signature.")


def _user_words(content: dict[str, Any]) -> str:
    parts = content.get("parts")
    return user_words(
        "\n".join(
            p["text"]
            for p in (parts if isinstance(parts, list) else [])
            if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
        )
    )


def _read_format(config: dict[str, Any], facts: Facts) -> None:
    """``responseMimeType: application/json`` with ``responseSchema`` (Gemini's Schema) or
    ``responseJsonSchema`` (JSON Schema): the answer is JSON that validates."""
    mime = _get(config, "responseMimeType", "response_mime_type")
    schema = _get(config, "responseJsonSchema", "response_json_schema")
    if schema is None:
        schema = _get(config, "responseSchema", "response_schema")
    if mime == "application/json" or isinstance(schema, dict):
        facts.json_output = True
        facts.output_schema = schema if isinstance(schema, dict) else None


def _usage(plan: Plan) -> dict[str, Any]:
    usage = {
        "promptTokenCount": plan.prompt_tokens,
        "candidatesTokenCount": plan.output_tokens,
        "totalTokenCount": plan.prompt_tokens + plan.completion_tokens,
    }
    if plan.reasoning_tokens:
        usage["thoughtsTokenCount"] = plan.reasoning_tokens
    return usage


def _response(plan: Plan, parts: list[dict[str, Any]], last: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    out: dict[str, Any] = {"candidates": [candidate]}
    if last:
        candidate["finishReason"] = "MAX_TOKENS" if plan.truncated else "STOP"
        out["usageMetadata"] = _usage(plan)
    out["modelVersion"] = plan.model
    out["responseId"] = plan.uid
    return out


def _answer_part(plan: Plan, text: str) -> dict[str, Any]:
    if (call := plan.tool_call) is not None:
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.arguments}}
    else:
        part = {"text": text}
    if plan.signature is not None:
        part["thoughtSignature"] = plan.signature
    return part


def generate_body(plan: Plan) -> bytes:
    parts: list[dict[str, Any]] = []
    if plan.thinking:
        parts.append({"text": "".join(plan.thinking), "thought": True})
    if plan.tool_call is not None or plan.pieces:
        parts.append(_answer_part(plan, plan.text))
    return orjson.dumps(_response(plan, parts, last=True))


def generate_frames(plan: Plan, sse: bool) -> list[bytes]:
    """One response per thought piece and per text piece; the last one carries the finish."""
    responses = [_response(plan, [{"text": t, "thought": True}], last=False) for t in plan.thinking]
    if plan.tool_call is not None:
        answers = [[_answer_part(plan, "")]]
    elif plan.pieces:
        answers = [[_answer_part(plan, plan.pieces[0])]]
        answers += [[{"text": p}] for p in plan.pieces[1:]]
    else:
        answers = [[{"text": ""}]]
    for i, parts in enumerate(answers):
        responses.append(_response(plan, parts, last=i == len(answers) - 1))
    if sse:
        return [b"data: " + orjson.dumps(r) + b"\r\n\r\n" for r in responses]
    frames = [(b"[" if i == 0 else b",\r\n") + orjson.dumps(r) for i, r in enumerate(responses)]
    frames.append(b"]")
    return frames


def count_tokens_body(obj: dict[str, Any]) -> bytes:
    inner = _get(obj, "generateContentRequest", "generate_content_request")
    chars = _prompt_chars(inner if isinstance(inner, dict) else obj)
    return orjson.dumps({"totalTokens": estimate_tokens(chars) if chars else 0})


def _embed_one(request: Any) -> dict[str, Any]:
    content = _get(request, "content", "content")
    if not isinstance(content, dict):
        raise RequestError("* EmbedContentRequest.content: content is not specified")
    dims = _get(request, "outputDimensionality", "output_dimensionality") or EMBEDDING_DIMS
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= 4096:
        raise RequestError("outputDimensionality must be within 1..4096")
    parts = content.get("parts") or []
    if not isinstance(parts, list):  # as the API: a 400, not the mock's crash
        raise RequestError("Invalid value at 'content.parts': expected a list")
    texts = [p.get("text", "") for p in parts if isinstance(p, dict)]
    return {"values": embedding("\n".join(str(t) for t in texts), dims)}


def embed_body(obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"embedding": _embed_one(obj)})


def batch_embed_body(obj: dict[str, Any]) -> bytes:
    requests = obj.get("requests")
    if not isinstance(requests, list) or not requests:
        raise RequestError("* BatchEmbedContentsRequest.requests: requests is not specified")
    return orjson.dumps({"embeddings": [_embed_one(r) for r in requests]})


def _error(status: int, message: str) -> dict[str, Any]:
    name = _STATUS.get(status) or ("UNKNOWN" if status >= 500 else "FAILED_PRECONDITION")
    return {"code": status, "message": message, "status": name}


def error_body(status: int, message: str) -> bytes:
    return orjson.dumps({"error": _error(status, message)})


def error_frame(sse: bool) -> bytes:
    """An in-band error mid-stream; google-genai raises ``ServerError`` on it."""
    data = orjson.dumps({"error": _error(500, "An internal error has occurred.")})
    return b"data: " + data + b"\r\n\r\n" if sse else b",\r\n" + data


def garbage_frame(sse: bool) -> bytes:
    return b'data: {"candidates": [{"content": \r\n\r\n' if sse else b',\r\n{"candidates": ['
