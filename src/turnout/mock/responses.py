"""OpenAI Responses dialect of the mock (``POST /v1/responses``).

It reads a request into the same :class:`~turnout.mock.plan.Facts` as the other dialects
(the latest user turn's words, the function tools and ``tool_choice``, ``text.format``,
``reasoning.effort``, a trailing ``function_call_output``), so it answers what they answer.
Reasoning comes back as a reasoning item; its ``encrypted_content`` (only when ``include``
asks for ``reasoning.encrypted_content``, as OpenAI does) is a signature of the mock's, and a
reasoning item sent back with encrypted content the mock did not mint is a 400, as OpenAI
refuses content it cannot decrypt.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from turnout.mock.content import estimate_tokens, scan_prompt, valid_signature
from turnout.mock.plan import Facts, Plan, RequestError, ToolSpec, result_text, text_of


def _positive_int(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(f"Invalid '{key}': expected an integer >= 1.", key)
    return value


def _items(obj: dict[str, Any]) -> list[Any]:
    raw = obj.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise RequestError("'input' must be a non-empty string or array.", "input")
    return raw


def _signatures(items: list[Any]) -> int:
    count = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "reasoning":
            continue
        content = item.get("encrypted_content")
        if content is None:
            continue
        if not isinstance(content, str) or not valid_signature(content):
            raise RequestError(
                f"The encrypted content for item input[{i}] could not be verified.",
                f"input[{i}].encrypted_content",
            )
        count += 1
    return count


def _metadata(value: Any) -> dict[str, str]:
    """OpenAI's rule: up to 16 string keys with string values; the answer echoes them."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError("Invalid type for 'metadata': expected an object", "metadata")
    for key, item in value.items():
        if not isinstance(item, str):
            raise RequestError(
                f"Invalid type for 'metadata.{key}': expected a string", f"metadata.{key}"
            )
    return dict(value)


def read_responses(obj: dict[str, Any]) -> Facts:
    """Read a Responses request; raise :class:`RequestError` where OpenAI answers 400."""
    model = obj.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("you must provide a model parameter", "model")
    items = _items(obj)
    facts = Facts(model=model, stream=obj.get("stream") is True)
    facts.max_tokens = _positive_int(obj, "max_output_tokens")
    facts.metadata = _metadata(obj.get("metadata"))
    tools = obj.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        name = tool.get("name") if isinstance(tool, dict) else None
        if isinstance(name, str) and tool.get("type") == "function":
            facts.tools.append(ToolSpec(name, tool.get("parameters") or {}))
    choice = obj.get("tool_choice")
    if choice == "none":
        facts.tools_forbidden = True
    elif choice == "required":
        facts.tool_required = True
    elif isinstance(choice, dict) and isinstance(choice.get("name"), str):
        facts.forced_tool = choice["name"]
    last = items[-1]
    if isinstance(last, dict) and last.get("type") == "function_call_output":
        facts.tool_result = result_text(last.get("output"))
    users = [i for i in items if isinstance(i, dict) and i.get("role") == "user"]
    facts.prompt = text_of(users[-1].get("content")) if users else ""
    fmt = (obj.get("text") or {}).get("format") if isinstance(obj.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        facts.json_output = True
        schema = fmt.get("schema")
        facts.output_schema = schema if isinstance(schema, dict) else None
    effort = (
        (obj.get("reasoning") or {}).get("effort")
        if isinstance(obj.get("reasoning"), dict)
        else None
    )
    facts.thinking = isinstance(effort, str) and effort != "none"
    facts.signatures = _signatures(items)
    scan = scan_prompt([obj.get("instructions"), items], lambda p: p.get("type") == "input_image")
    facts.prompt_chars, facts.images = scan.chars, scan.images
    include = obj.get("include")
    facts.encrypted_reasoning = (
        isinstance(include, list) and "reasoning.encrypted_content" in include
    )
    return facts


def input_tokens_body(obj: dict[str, Any]) -> bytes:
    """``POST /v1/responses/input_tokens``: the prompt's size by the mock's tokenizer."""
    facts = read_responses(obj)
    tokens = estimate_tokens(facts.prompt_chars)
    return orjson.dumps({"object": "response.input_tokens", "input_tokens": tokens})


# -- rendering ---------------------------------------------------------------------------------


def _usage(plan: Plan) -> dict[str, Any]:
    return {
        "input_tokens": plan.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": plan.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
    }


def _output(plan: Plan, encrypted: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if plan.thinking:
        item: dict[str, Any] = {
            "id": f"rs_{plan.uid}",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "".join(plan.thinking)}],
        }
        if encrypted and plan.signature is not None:
            item["encrypted_content"] = plan.signature
        out.append(item)
    if (call := plan.tool_call) is not None:
        out.append(
            {
                "id": f"fc_{plan.uid}",
                "type": "function_call",
                "status": "completed",
                "arguments": call.arguments_json,
                "call_id": f"call_{plan.uid}",
                "name": call.name,
            }
        )
    else:
        out.append(
            {
                "id": f"msg_{plan.uid}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": plan.text, "annotations": [], "logprobs": []}
                ],
            }
        )
    return out


def _response(
    plan: Plan, status: str, output: list[Any], usage: Any, metadata: dict[str, str]
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": f"resp_{plan.uid}",
        "object": "response",
        "created_at": now,
        "status": status,
        "background": False,
        "completed_at": now if status == "completed" else None,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": plan.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": metadata,
    }


def _status(plan: Plan) -> str:
    return "incomplete" if plan.truncated else "completed"


def responses_body(plan: Plan, facts: Facts) -> bytes:
    output = _output(plan, facts.encrypted_reasoning)
    return orjson.dumps(_response(plan, _status(plan), output, _usage(plan), facts.metadata))


def responses_frames(plan: Plan, facts: Facts) -> list[bytes]:
    """The event sequence OpenAI streams: lifecycle, each item's added/deltas/done, end."""
    frames: list[bytes] = []
    seq = 0

    def event(kind: str, **fields: Any) -> None:
        nonlocal seq
        payload = {"type": kind, "sequence_number": seq, **fields}
        seq += 1
        frames.append(b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n")

    begun = _response(plan, "in_progress", [], None, facts.metadata)
    event("response.created", response=begun)
    event("response.in_progress", response=begun)
    output = _output(plan, facts.encrypted_reasoning)
    part: dict[str, Any]
    for index, item in enumerate(output):
        at = {"item_id": item["id"], "output_index": index}
        kind = item["type"]
        if kind == "reasoning":
            event("response.output_item.added", output_index=index,
                  item={**item, "summary": [], "encrypted_content": None})  # fmt: skip
            text = item["summary"][0]["text"]
            part = {"type": "summary_text", "text": ""}
            event("response.reasoning_summary_part.added", **at, summary_index=0, part=part)
            for piece in plan.thinking:
                event("response.reasoning_summary_text.delta", **at, summary_index=0, delta=piece)
            event("response.reasoning_summary_text.done", **at, summary_index=0, text=text)
            event("response.reasoning_summary_part.done", **at, summary_index=0,
                  part={"type": "summary_text", "text": text})  # fmt: skip
        elif kind == "function_call":
            event("response.output_item.added", output_index=index,
                  item={**item, "arguments": "", "status": "in_progress"})  # fmt: skip
            args = item["arguments"]
            for i in range(0, len(args), 8):
                event("response.function_call_arguments.delta", **at, delta=args[i : i + 8])
            event("response.function_call_arguments.done", **at, name=item["name"],
                  arguments=args)  # fmt: skip
        else:
            event("response.output_item.added", output_index=index,
                  item={**item, "content": [], "status": "in_progress"})  # fmt: skip
            part = {
                "type": "output_text",
                "text": "",
                "annotations": [],
                "logprobs": [],
            }
            event("response.content_part.added", **at, content_index=0, part=part)
            for piece in plan.pieces:
                event("response.output_text.delta", **at, content_index=0, delta=piece,
                      logprobs=[])  # fmt: skip
            event("response.output_text.done", **at, content_index=0, text=plan.text,
                  logprobs=[])  # fmt: skip
            event("response.content_part.done", **at, content_index=0,
                  part=item["content"][0])  # fmt: skip
        event("response.output_item.done", output_index=index, item=item)
    status = _status(plan)
    event(
        f"response.{status}",
        response=_response(plan, status, output, _usage(plan), facts.metadata),
    )
    return frames
