"""Gemini ``GenerateContentResponse`` <-> IRResponse, plus finish-reason and usage maps."""

from __future__ import annotations

from turnout.ir import (
    JSON,
    FinishReason,
    IRResponse,
    ToolCallPart,
    Usage,
)
from turnout.ir.response import count, maybe_count
from turnout.protocols.gemini.parts import PROTOCOL, SYNTH_ID_PREFIX, PartReader, parts_from_ir

FINISH_TO_IR: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "IMAGE_RECITATION": FinishReason.CONTENT_FILTER,
    "MALFORMED_FUNCTION_CALL": FinishReason.ERROR,
    "UNEXPECTED_TOOL_CALL": FinishReason.ERROR,
    "TOO_MANY_TOOL_CALLS": FinishReason.ERROR,
}
FINISH_FROM_IR: dict[FinishReason, str] = {
    FinishReason.STOP: "STOP",
    FinishReason.LENGTH: "MAX_TOKENS",
    FinishReason.TOOL_CALLS: "STOP",
    FinishReason.CONTENT_FILTER: "SAFETY",
    FinishReason.ERROR: "OTHER",
    FinishReason.OTHER: "OTHER",
}


def finish_to_ir(raw: str | None, has_tool_calls: bool) -> FinishReason | None:
    """Gemini says STOP for tool calls too; the other dialects want a distinct reason."""
    if raw is None:
        return None
    if raw == "STOP" and has_tool_calls:
        return FinishReason.TOOL_CALLS
    return FINISH_TO_IR.get(raw, FinishReason.OTHER)


def usage_to_ir(meta: object) -> Usage | None:
    """Gemini's candidatesTokenCount excludes thoughts; IR output includes them."""
    if not meta or not isinstance(meta, dict):
        return None
    get = meta.get
    thoughts = count(get("thoughtsTokenCount"))
    return Usage(
        input_tokens=count(get("promptTokenCount")) + count(get("toolUsePromptTokenCount")),
        output_tokens=count(get("candidatesTokenCount")) + thoughts,
        cached_input_tokens=count(get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        total_tokens=maybe_count(get("totalTokenCount")),
    )


def usage_from_ir(usage: Usage) -> JSON:
    out: JSON = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": max(usage.output_tokens - usage.reasoning_tokens, 0),
        "totalTokenCount": usage.total(),
    }
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_input_tokens:
        out["cachedContentTokenCount"] = usage.cached_input_tokens
    return out


def to_ir(body: JSON, *, id_prefix: str | None = None) -> IRResponse:
    """``id_prefix`` makes invented call ids unique across turns (defaults to the responseId)."""
    response_id = body.get("responseId")
    reader = PartReader(id_prefix or f"{SYNTH_ID_PREFIX}{response_id or 'r'}_")
    candidates = body.get("candidates") or []
    candidate: JSON = candidates[0] if candidates else {}
    content = reader.parts((candidate.get("content") or {}).get("parts") or [])
    raw = candidate.get("finishReason")
    if not candidates and (body.get("promptFeedback") or {}).get("blockReason"):
        raw = body["promptFeedback"]["blockReason"]
        reason: FinishReason | None = FinishReason.CONTENT_FILTER
    else:
        reason = finish_to_ir(raw, any(isinstance(p, ToolCallPart) for p in content))
    extras: JSON = {k: body[k] for k in ("promptFeedback",) if k in body}
    return IRResponse(
        id=response_id,
        model=body.get("modelVersion"),
        content=content,
        finish_reason=reason,
        raw_finish_reason=raw,
        usage=usage_to_ir(body.get("usageMetadata")),
        extras=extras,
        source=PROTOCOL,
    )


def from_ir(resp: IRResponse, public_model: str) -> JSON:
    parts = parts_from_ir(resp.content, "content", {}, for_client=True)
    candidate: JSON = {"content": {"role": "model", "parts": parts}, "index": 0}
    if resp.finish_reason is not None:
        candidate["finishReason"] = FINISH_FROM_IR[resp.finish_reason]
    body: JSON = {"candidates": [candidate], "modelVersion": public_model}
    if resp.usage is not None:
        body["usageMetadata"] = usage_from_ir(resp.usage)
    if resp.id:
        body["responseId"] = resp.id
    if resp.source == PROTOCOL:
        body.update(resp.extras)
    return body
