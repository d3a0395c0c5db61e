"""The shapes translation reads from Anthropic Messages bodies (see protocols/shape.py).

REQUEST follows ``request.to_ir`` and ``messages.block_to_part`` field by field; RESPONSE
follows ``response.to_ir`` and adds what an answer must have to be one (``content``).
"""

from __future__ import annotations

from turnout.protocols.shape import ANY, BOOL, INT, NUM, STR, Arr, Obj, OneOf, Shape, Tagged, opt

_CACHE = opt(Obj())
_SOURCE = Tagged(
    "type",
    {
        "base64": Obj({"media_type": opt(STR), "data": opt(STR)}),
        "url": Obj({"url": opt(STR)}),
        "text": Obj({"media_type": opt(STR), "data": opt(STR)}),
    },
)
_MEDIA = Obj({"source": opt(_SOURCE), "cache_control": _CACHE, "title": opt(STR)})


def _blocks(result_content: Shape) -> Tagged:
    return Tagged(
        "type",
        {
            "text": Obj({"text": STR, "cache_control": _CACHE}),
            "image": _MEDIA,
            "document": _MEDIA,
            "tool_use": Obj({"id": STR, "name": STR, "input": opt(Obj())}),
            "tool_result": Obj(
                {
                    "tool_use_id": STR,
                    "content": result_content,
                    "cache_control": _CACHE,
                }
            ),
            "thinking": Obj({"thinking": STR, "signature": opt(STR)}),
            "redacted_thinking": Obj({"data": STR}),
        },
    )


# A tool result holds blocks again, read the same way: the shape refers to itself.
BLOCK = _blocks(ANY)
BLOCK.variants["tool_result"].fields["content"] = opt(OneOf(STR, Arr(BLOCK)))
CONTENT = opt(OneOf(STR, Arr(BLOCK)))
_CUSTOM_TOOL = Obj(
    {
        "name": STR,
        "description": opt(STR),
        "input_schema": opt(Obj()),
        "strict": opt(BOOL),
        "cache_control": _CACHE,
    }
)

REQUEST = Obj(
    {
        "messages": opt(Arr(Obj({"content": CONTENT}))),
        "system": opt(OneOf(STR, Arr(Obj({"text": STR, "cache_control": _CACHE})))),
        # No type is a custom tool; server tools are carried raw.
        "tools": opt(
            Arr(
                Tagged(
                    "type",
                    {"custom": _CUSTOM_TOOL},
                    default=Obj({"name": opt(STR)}),
                    absent=_CUSTOM_TOOL,
                )
            )
        ),
        "tool_choice": opt(Obj({"name": opt(STR)})),
        "thinking": opt(Obj({"budget_tokens": opt(INT)})),
        "output_config": opt(Obj({"effort": opt(STR), "format": opt(Obj({"schema": opt(Obj())}))})),
        "output_format": opt(Obj({"schema": opt(Obj())})),
        "metadata": opt(Obj({"user_id": opt(STR)})),
        "max_tokens": opt(INT),
        "temperature": opt(NUM),
        "top_p": opt(NUM),
        "top_k": opt(INT),
        "stop_sequences": opt(Arr(STR)),
    }
)

USAGE = Obj(
    {
        "input_tokens": opt(INT),
        "output_tokens": opt(INT),
        "cache_read_input_tokens": opt(INT),
        "cache_creation_input_tokens": opt(INT),
    }
)
RESPONSE = Obj(
    {"content": Arr(BLOCK), "stop_reason": opt(STR), "usage": opt(USAGE)},
    required=("content",),
)
