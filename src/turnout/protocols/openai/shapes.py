"""The shapes translation reads from OpenAI Chat Completions bodies (see protocols/shape.py).

REQUEST follows ``request.to_ir`` and ``messages.messages_to_ir`` field by field; RESPONSE
follows ``response.to_ir`` and adds what an answer must have to be one (``choices``).
"""

from __future__ import annotations

from turnout.protocols.shape import ANY, BOOL, INT, NUM, STR, Arr, Obj, OneOf, Tagged, opt

_CONTENT_PART = Tagged(
    "type",
    {
        "text": Obj({"text": STR}),
        "image_url": Obj({"image_url": opt(Obj({"url": STR, "detail": opt(STR)}))}),
        "input_audio": Obj({"input_audio": opt(Obj({"format": STR, "data": opt(STR)}))}),
        "file": Obj({"file": opt(Obj({"file_data": opt(STR), "filename": opt(STR)}))}),
        "refusal": Obj({"refusal": STR}),
    },
)
_CONTENT = opt(OneOf(STR, Arr(_CONTENT_PART)))
_FUNCTION_CALL = Obj({"name": STR, "arguments": opt(STR)})
_TOOL_CALL = Tagged(
    "type",
    {"function": Obj({"id": opt(STR), "function": opt(_FUNCTION_CALL)})},
    # No type at all is read as a function call too.
    default=Obj({"id": opt(STR), "function": opt(_FUNCTION_CALL)}),
)
_MESSAGE_FIELDS = {"content": _CONTENT, "tool_calls": opt(Arr(_TOOL_CALL)), "refusal": opt(STR)}
_MESSAGE = Tagged(
    "role",
    {"tool": Obj({**_MESSAGE_FIELDS, "tool_call_id": STR})},
    default=Obj(_MESSAGE_FIELDS),
)
_TOOL = Obj(
    {
        "function": opt(
            Obj(
                {
                    "name": STR,
                    "description": opt(STR),
                    "parameters": opt(Obj()),
                    "strict": opt(BOOL),
                }
            )
        )
    }
)
_TOOL_CHOICE = opt(
    OneOf(
        STR,
        Obj(
            {
                "function": opt(Obj({"name": opt(STR)})),
                "allowed_tools": opt(
                    Obj({"tools": Arr(Obj({"function": Obj({"name": opt(STR)})}))})
                ),
            }
        ),
    )
)
_RESPONSE_FORMAT = opt(
    Obj(
        {
            "json_schema": opt(
                Obj(
                    {
                        "schema": opt(Obj()),
                        "name": opt(STR),
                        "strict": opt(BOOL),
                        "description": opt(STR),
                    }
                )
            )
        }
    )
)

REQUEST = Obj(
    {
        "messages": opt(Arr(_MESSAGE)),
        "tools": opt(Arr(_TOOL)),
        "tool_choice": _TOOL_CHOICE,
        "parallel_tool_calls": opt(BOOL),
        "max_tokens": opt(INT),
        "max_completion_tokens": opt(INT),
        "temperature": opt(NUM),
        "top_p": opt(NUM),
        "seed": opt(INT),
        "presence_penalty": opt(NUM),
        "frequency_penalty": opt(NUM),
        "n": opt(INT),
        "stop": opt(OneOf(STR, Arr(STR))),
        "response_format": _RESPONSE_FORMAT,
        "reasoning_effort": opt(STR),
        "stream_options": opt(Obj()),
        "user": opt(STR),
        "metadata": opt(Obj()),
    }
)

_USAGE = opt(
    Obj(
        {
            "prompt_tokens": opt(INT),
            "completion_tokens": opt(INT),
            "total_tokens": opt(INT),
            "prompt_tokens_details": opt(Obj({"cached_tokens": opt(INT)})),
            "completion_tokens_details": opt(Obj({"reasoning_tokens": opt(INT)})),
        }
    )
)
_ANSWER = Obj(
    {
        "content": opt(OneOf(STR, Arr())),
        "reasoning_content": ANY,
        "reasoning": ANY,
        "refusal": opt(STR),
        "tool_calls": opt(Arr(Obj({"id": opt(STR), "function": opt(_FUNCTION_CALL)}))),
    }
)
RESPONSE = Obj(
    {
        "choices": Arr(
            Obj({"message": _ANSWER, "finish_reason": opt(STR)}, required=("message",)),
            min_items=1,
        ),
        "usage": _USAGE,
    },
    required=("choices",),
)
