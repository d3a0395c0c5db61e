"""The shapes translation reads from Gemini bodies (see protocols/shape.py).

Gemini accepts every field in camelCase or snake_case (proto JSON), and so do the translators
(``parts.g``), so each field is described under both spellings. REQUEST follows
``request.to_ir`` and ``parts.PartReader``; RESPONSE follows ``response.to_ir``, and an answer
must hold candidates unless its prompt was blocked (:func:`check_response`).
"""

from __future__ import annotations

from typing import Any

from turnout.protocols.shape import ANY, BOOL, INT, NUM, STR, Arr, Obj, OneOf, ShapeError, both, opt

_MEDIA = Obj(
    {
        **both("mimeType", "mime_type", opt(STR)),
        **both("displayName", "display_name", opt(STR)),
        **both("fileUri", "file_uri", opt(STR)),
        "data": opt(STR),
    }
)
PART = Obj(
    {
        **both("thoughtSignature", "thought_signature", opt(STR)),
        "text": opt(STR),
        **both("inlineData", "inline_data", opt(_MEDIA)),
        **both("fileData", "file_data", opt(_MEDIA)),
        **both(
            "functionCall",
            "function_call",
            opt(Obj({"name": STR, "id": opt(STR), "args": opt(Obj())})),
        ),
        **both(
            "functionResponse",
            "function_response",
            opt(Obj({"name": STR, "id": opt(STR), "response": ANY})),
        ),
    }
)
CONTENT = Obj({"parts": opt(Arr(PART))})

_THINKING = Obj(
    {
        **both("thinkingBudget", "thinking_budget", opt(INT)),
        **both("includeThoughts", "include_thoughts", opt(BOOL)),
    }
)
_GENERATION = Obj(
    {
        "temperature": opt(NUM),
        **both("topP", "top_p", opt(NUM)),
        **both("topK", "top_k", opt(INT)),
        **both("maxOutputTokens", "max_output_tokens", opt(INT)),
        **both("stopSequences", "stop_sequences", opt(Arr(STR))),
        "seed": opt(INT),
        **both("presencePenalty", "presence_penalty", opt(NUM)),
        **both("frequencyPenalty", "frequency_penalty", opt(NUM)),
        **both("candidateCount", "candidate_count", opt(INT)),
        **both("responseMimeType", "response_mime_type", opt(STR)),
        **both("responseSchema", "response_schema", opt(Obj())),
        **both("responseJsonSchema", "response_json_schema", opt(Obj())),
        **both("thinkingConfig", "thinking_config", opt(_THINKING)),
    }
)
_DECLARATION = Obj(
    {
        "name": STR,
        "description": opt(STR),
        "parameters": opt(Obj()),
        **both("parametersJsonSchema", "parameters_json_schema", opt(Obj())),
    }
)
_TOOL_CONFIG = Obj(
    {
        **both(
            "functionCallingConfig",
            "function_calling_config",
            opt(Obj(both("allowedFunctionNames", "allowed_function_names", opt(Arr(STR))))),
        )
    }
)

REQUEST = Obj(
    {
        "contents": opt(Arr(CONTENT)),
        **both(
            "systemInstruction",
            "system_instruction",
            opt(OneOf(STR, Obj({"parts": opt(Arr(Obj({"text": STR})))}))),
        ),
        **both("generationConfig", "generation_config", opt(_GENERATION)),
        "tools": opt(
            Arr(Obj(both("functionDeclarations", "function_declarations", opt(Arr(_DECLARATION)))))
        ),
        **both("toolConfig", "tool_config", opt(_TOOL_CONFIG)),
    }
)

_USAGE = Obj(
    {
        name: opt(INT)
        for name in (
            "promptTokenCount",
            "toolUsePromptTokenCount",
            "candidatesTokenCount",
            "thoughtsTokenCount",
            "cachedContentTokenCount",
            "totalTokenCount",
        )
    }
)
RESPONSE = Obj(
    {
        "candidates": opt(Arr(Obj({"content": opt(CONTENT), "finishReason": opt(STR)}))),
        "promptFeedback": opt(Obj({"blockReason": opt(STR)})),
        "usageMetadata": opt(_USAGE),
    }
)


def check_response(body: Any) -> None:
    """RESPONSE, and candidates unless the prompt was blocked (then there are none)."""
    RESPONSE.check(body)
    if not body.get("candidates") and not (body.get("promptFeedback") or {}).get("blockReason"):
        raise ShapeError("candidates", "missing (and no promptFeedback.blockReason)")
