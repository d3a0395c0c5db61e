"""The shapes translation reads from Responses API bodies (see protocols/shape.py).

REQUEST follows ``request.to_ir`` and ``items.items_to_ir``; RESPONSE follows
``response.to_ir`` and adds what an answer must have to be one (``output``).
"""

from __future__ import annotations

from turnout.protocols.shape import ANY, BOOL, INT, NUM, STR, Arr, Obj, OneOf, Tagged, opt

_PART = Tagged(
    "type",
    {
        "input_text": Obj({"text": STR}),
        "output_text": Obj({"text": STR}),
        "text": Obj({"text": STR}),
        "refusal": Obj({"refusal": STR}),
        "input_image": Obj({"image_url": opt(STR), "detail": opt(STR), "file_id": opt(STR)}),
        "input_file": Obj(
            {
                "file_data": opt(STR),
                "file_url": opt(STR),
                "filename": opt(STR),
                "file_id": opt(STR),
            }
        ),
        "input_audio": Obj({"input_audio": opt(Obj({"format": STR, "data": opt(STR)}))}),
    },
)
_CONTENT = opt(OneOf(STR, Arr(_PART)))
_SUMMARY = opt(Arr(Obj({"text": STR})))
_ITEM = Tagged(
    "type",
    {
        "message": Obj({"role": STR, "content": _CONTENT}, required=("role",)),
        "function_call": Obj(
            {"call_id": opt(STR), "id": opt(STR), "name": STR, "arguments": opt(STR)}
        ),
        "function_call_output": Obj({"call_id": STR, "output": _CONTENT}),
        "reasoning": Obj({"summary": _SUMMARY, "content": _SUMMARY, "encrypted_content": ANY}),
    },
    default=Obj(),
    absent=Obj({"role": STR, "content": _CONTENT}, required=("role",)),
)
_TOOL = Obj(
    {
        "type": opt(STR),
        "name": opt(STR),
        "description": opt(STR),
        "parameters": opt(Obj()),
        "strict": opt(BOOL),
    }
)
_TOOL_CHOICE = opt(
    OneOf(
        STR,
        Obj(
            {
                "type": opt(STR),
                "name": opt(STR),
                "mode": opt(STR),
                "tools": opt(Arr(Obj({"type": opt(STR), "name": opt(STR)}))),
            }
        ),
    )
)
_FORMAT = Obj(
    {
        "type": opt(STR),
        "name": opt(STR),
        "schema": opt(Obj()),
        "strict": opt(BOOL),
        "description": opt(STR),
    }
)

REQUEST = Obj(
    {
        "input": opt(OneOf(STR, Arr(_ITEM))),
        "instructions": opt(STR),
        "tools": opt(Arr(_TOOL)),
        "tool_choice": _TOOL_CHOICE,
        "parallel_tool_calls": opt(BOOL),
        "max_output_tokens": opt(INT),
        "temperature": opt(NUM),
        "top_p": opt(NUM),
        "text": opt(Obj({"format": opt(_FORMAT)})),
        "reasoning": opt(Obj({"effort": opt(STR), "summary": opt(STR)})),
        "user": opt(STR),
        "metadata": opt(Obj()),
    }
)

_USAGE = opt(
    Obj(
        {
            "input_tokens": opt(INT),
            "output_tokens": opt(INT),
            "total_tokens": opt(INT),
            "input_tokens_details": opt(
                Obj({"cached_tokens": opt(INT), "cache_write_tokens": opt(INT)})
            ),
            "output_tokens_details": opt(Obj({"reasoning_tokens": opt(INT)})),
        }
    )
)
_OUTPUT = Tagged(
    "type",
    {
        "message": Obj({"content": opt(Arr(Obj({"text": opt(STR), "refusal": opt(STR)})))}),
        "function_call": Obj(
            {"call_id": opt(STR), "id": opt(STR), "name": opt(STR), "arguments": opt(STR)}
        ),
        "reasoning": Obj({"summary": _SUMMARY}),
    },
)
RESPONSE = Obj(
    {
        "output": Arr(_OUTPUT),
        "status": opt(STR),
        "incomplete_details": opt(Obj({"reason": opt(STR)})),
        "created_at": opt(NUM),
        "usage": _USAGE,
    },
    required=("output",),
)
