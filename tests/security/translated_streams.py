"""Hostile streams of each upstream protocol, for test_translated_upstreams.py: a valid stream
of each, then the same cut, reordered, repeated, of the wrong types or of another protocol."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.security.translated_answers import BODIES, RESPONSES_WHOLE, deep


def _frame(data: Any, name: str | None = None) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {name}\n" if name else "") + f"data: {text}\n\n"


def _chat_chunk(delta: Any, finish: Any = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up",
            "choices": [choice], **extra}  # fmt: skip


def _chat_tool(index: Any, **fields: Any) -> dict[str, Any]:
    return _chat_chunk({"tool_calls": [{"index": index, **fields}]})


CHAT_START = _chat_chunk({"role": "assistant", "content": ""})
CHAT_TEXT = _chat_chunk({"content": "Hi"})
CHAT_STOP = _chat_chunk({}, "stop")
CHAT_USAGE = {**_chat_chunk({}), "choices": [],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}  # fmt: skip
CHAT_TOOL = _chat_tool(0, id="call_1", type="function", function={"name": "f", "arguments": ""})


def _chat_stream(*events: Any, done: bool = True) -> list[str]:
    return [_frame(e) for e in events] + ([_frame("[DONE]")] if done else [])


def _a(kind: str, **fields: Any) -> str:
    return _frame({"type": kind, **fields}, kind)


A_START = _a("message_start", message={
    "id": "msg_1", "type": "message", "role": "assistant", "model": "up", "content": [],
    "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1},
})  # fmt: skip
A_TEXT_START = _a("content_block_start", index=0, content_block={"type": "text", "text": ""})
A_TEXT = _a("content_block_delta", index=0, delta={"type": "text_delta", "text": "Hi"})
A_TOOL = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
A_TOOL_START = _a("content_block_start", index=0, content_block=A_TOOL)
A_ARGS = _a(
    "content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": "{}"}
)
A_BLOCK_STOP = _a("content_block_stop", index=0)
A_DELTA = _a("message_delta", delta={"stop_reason": "end_turn", "stop_sequence": None},
             usage={"output_tokens": 2})  # fmt: skip
A_STOP = _a("message_stop")
A_OK = [A_START, A_TEXT_START, A_TEXT, A_BLOCK_STOP, A_DELTA, A_STOP]


def _g(parts: Any, finish: Any = None, **extra: Any) -> str:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return _frame({"candidates": [candidate], **extra})


G_USAGE = {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}
G_TEXT = _g([{"text": "Hi"}])
G_END = _g([{"text": ""}], "STOP", usageMetadata=G_USAGE)


def _r(kind: str, **fields: Any) -> str:
    return _frame({"type": kind, **fields}, kind)


def _response(status: str, output: Any) -> dict[str, Any]:
    return {**RESPONSES_WHOLE, "status": status, "output": output}


R_CREATED = _r("response.created", sequence_number=0, response=_response("in_progress", []))
R_ITEM = {"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant",
          "content": []}  # fmt: skip
R_ADDED = _r("response.output_item.added", sequence_number=1, output_index=0, item=R_ITEM)
R_PART = _r("response.content_part.added", sequence_number=2, output_index=0,
            item_id="msg_1", content_index=0,
            part={"type": "output_text", "text": "", "annotations": []})  # fmt: skip
R_TEXT = _r("response.output_text.delta", sequence_number=3, output_index=0, item_id="msg_1",
            content_index=0, delta="Hi")  # fmt: skip
R_ITEM_DONE = _r("response.output_item.done", sequence_number=4, output_index=0,
                 item=RESPONSES_WHOLE["output"][0])  # fmt: skip
R_DONE = _r("response.completed", sequence_number=5,
            response=_response("completed", RESPONSES_WHOLE["output"]))  # fmt: skip
R_OK = [R_CREATED, R_ADDED, R_PART, R_TEXT, R_ITEM_DONE, R_DONE]
R_FN_ITEM = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f",
             "arguments": "", "status": "in_progress"}  # fmt: skip
R_FN_ADDED = _r("response.output_item.added", sequence_number=1, output_index=0, item=R_FN_ITEM)
R_FN_ARGS = _r("response.function_call_arguments.delta", sequence_number=2, output_index=0,
               item_id="fc_1", delta="{}")  # fmt: skip


def _sse(chunks: list[str]) -> dict[str, Any]:
    return {"type": "text/event-stream", "chunks": chunks}


# One event line past the parser's 16 MiB bound, never ended.
HUGE = {"chunk": "x" * 8192, "times": 17 * 128 + 4}


def stream_cases(upstream: str) -> dict[str, dict[str, Any]]:
    """Hostile streams for an upstream of ``upstream``'s protocol."""
    ok = {
        "chat": _chat_stream(CHAT_START, CHAT_TEXT, CHAT_STOP, CHAT_USAGE),
        "messages": A_OK,
        "gemini": [G_TEXT, G_END],
        "responses": R_OK,
    }[upstream]
    cases: dict[str, dict[str, Any]] = {
        "html": {"type": "text/html", "chunks": ["<html><body>Bad gateway</body></html>"]},
        "json-body": {"chunks": [json.dumps(BODIES[upstream])]},
        "empty": _sse([]),
        # A chat stream's finish_reason ends it as well as [DONE] does (vendors omit either).
        "cut-before-end": _sse(ok[:2] if upstream == "chat" else ok[:-1]),
        "cut-mid-event": _sse([*ok[:-1], ok[-1][: len(ok[-1]) // 2]]),
        "unknown-events": _sse([ok[0], _frame({"type": "surprise", "x": 1}, "surprise"), *ok[1:]]),
        "events-after-end": _sse([*ok, *ok[1:]]),
        "end-twice": _sse([*ok, ok[-1]]),
        "nan": _sse([c.replace('"Hi"', "NaN") for c in ok]),
        "bad-escape": _sse([c.replace('"Hi"', '"H\\ud800i"') for c in ok]),
        "non-utf8": {
            "type": "text/event-stream",
            "binary": True,
            "chunks": [
                base64.b64encode(
                    c.replace("Hi", "H\udcffi").encode("utf-8", "surrogateescape")
                ).decode()
                for c in ok
            ],
        },
        "deep": _sse([ok[0], _frame(deep(5000)), *ok[1:]]),
        "data-array": _sse([ok[0], _frame("[1, 2]"), *ok[1:]]),
        "data-string": _sse([ok[0], _frame('"x"'), *ok[1:]]),
        "data-null": _sse([ok[0], _frame("null"), *ok[1:]]),
        "huge-line": {**_sse([ok[0], "data: "]), "repeat": HUGE, "after": ["\n\n"]},
        "huge-event": {**_sse([ok[0], 'data: {"x": "']), "repeat": HUGE, "after": ['"}\n\n']},
        "comments-only": _sse([": keep-alive\n\n"] * 50),
    }
    for other, other_ok in {
        "chat": _chat_stream(CHAT_START, CHAT_TEXT, CHAT_STOP),
        "messages": A_OK,
        "gemini": [G_TEXT, G_END],
        "responses": R_OK,
    }.items():
        if other != upstream:
            cases[f"as-{other}"] = _sse(other_ok)
    cases.update(_order_cases(upstream))
    for depth in (200, 600):
        cases[f"deep-arguments-{depth}"] = _sse(_deep_tool_stream(upstream, depth))
    return cases


def _deep_tool_stream(upstream: str, depth: int) -> list[str]:
    """A stream of one tool call whose arguments nest ``depth`` deep."""
    args = '{"a": ' + deep(depth) + "}"
    if upstream == "chat":
        return _chat_stream(CHAT_START, CHAT_TOOL, _chat_tool(0, function={"arguments": args}),
                            _chat_chunk({}, "tool_calls"))  # fmt: skip
    if upstream == "messages":
        delta = _a("content_block_delta", index=0,
                   delta={"type": "input_json_delta", "partial_json": args})  # fmt: skip
        end = _a("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 2})
        return [A_START, A_TOOL_START, delta, A_BLOCK_STOP, end, A_STOP]
    if upstream == "gemini":
        part = _g([{"functionCall": {"name": "f", "args": "@"}}], "STOP")
        return [part.replace('"@"', args)]
    delta = _r("response.function_call_arguments.delta", sequence_number=2, output_index=0,
               item_id="fc_1", delta=args)  # fmt: skip
    item = {**R_FN_ITEM, "arguments": args, "status": "completed"}
    done = _r("response.output_item.done", sequence_number=3, output_index=0, item=item)
    end = _r("response.completed", sequence_number=4, response=_response("completed", [item]))
    return [R_CREATED, R_FN_ADDED, delta, done, end]


def _order_cases(upstream: str) -> dict[str, dict[str, Any]]:
    """Events out of order, of unknown indexes, and usage of the wrong types."""
    if upstream == "chat":
        return {
            "args-unknown-index": _sse(_chat_stream(
                CHAT_START, _chat_tool(7, function={"arguments": "{}"}),
                _chat_chunk({}, "tool_calls"),
            )),
            "tool-index-string": _sse(_chat_stream(
                CHAT_START, _chat_tool("0", id="c", function={"name": "f", "arguments": "{}"}),
                _chat_chunk({}, "tool_calls"),
            )),
            "tool-index-bigint": _sse(_chat_stream(
                CHAT_START, _chat_tool(2**70, id="c", function={"name": "f", "arguments": "{}"}),
                _chat_chunk({}, "tool_calls"),
            )),
            "tool-index-negative": _sse(_chat_stream(
                CHAT_START, _chat_tool(-1, id="c", function={"name": "f", "arguments": "{}"}),
                _chat_chunk({}, "tool_calls"),
            )),
            "tool-calls-object": _sse(_chat_stream(
                CHAT_START, _chat_chunk({"tool_calls": {"index": 0}}), CHAT_STOP
            )),
            "tool-function-null": _sse(_chat_stream(
                CHAT_START, _chat_tool(0, id="c", function=None), CHAT_STOP
            )),
            "finish-twice": _sse(_chat_stream(CHAT_START, CHAT_TEXT, CHAT_STOP, CHAT_STOP)),
            "text-after-finish": _sse(_chat_stream(CHAT_START, CHAT_STOP, CHAT_TEXT)),
            "choices-null": _sse(_chat_stream({**CHAT_TEXT, "choices": None}, CHAT_STOP)),
            "choices-object": _sse(_chat_stream({**CHAT_TEXT, "choices": {"0": 1}}, CHAT_STOP)),
            "delta-null": _sse(_chat_stream(_chat_chunk(None), CHAT_STOP)),
            "finish-number": _sse(_chat_stream(CHAT_TEXT, _chat_chunk({}, 5))),
            "usage-string": _sse(_chat_stream(CHAT_TEXT, CHAT_STOP, {**CHAT_USAGE, "usage": "x"})),
            "usage-values": _sse(_chat_stream(CHAT_TEXT, CHAT_STOP, {**CHAT_USAGE, "usage": {
                "prompt_tokens": "3", "completion_tokens": 1e300, "total_tokens": -4,
                "prompt_tokens_details": "x", "completion_tokens_details": [1]}})),
            "usage-bigint": _sse([_frame(CHAT_TEXT), _frame(CHAT_STOP), _frame(
                json.dumps(CHAT_USAGE).replace('"prompt_tokens": 3', '"prompt_tokens": ' + "9" * 40)
            ), _frame("[DONE]")]),
            "tool-no-name": _sse(_chat_stream(
                CHAT_START, _chat_tool(0, id="c", function={"arguments": "{}"}),
                _chat_chunk({}, "tool_calls"),
            )),
            "tool-id-twice": _sse(_chat_stream(
                CHAT_START, CHAT_TOOL, _chat_tool(1, id="call_1", function={"name": "f"}),
                _chat_chunk({}, "tool_calls"),
            )),
        }  # fmt: skip
    if upstream == "messages":
        return {
            "delta-before-start": _sse([A_TEXT, A_START, A_TEXT_START, *A_OK[2:]]),
            "block-never-started": _sse([A_START, A_TEXT, A_BLOCK_STOP, A_DELTA, A_STOP]),
            "args-unknown-index": _sse([A_START, A_ARGS.replace('"index": 0', '"index": 5'),
                                        A_DELTA, A_STOP]),
            "args-on-text-block": _sse([A_START, A_TEXT_START, A_ARGS, A_BLOCK_STOP, A_DELTA,
                                        A_STOP]),
            "text-on-tool-block": _sse([A_START, A_TOOL_START, A_TEXT, A_BLOCK_STOP, A_DELTA,
                                        A_STOP]),
            "stop-unknown-block": _sse([A_START, _a("content_block_stop", index=9), A_DELTA,
                                        A_STOP]),
            "block-stop-twice": _sse([A_START, A_TEXT_START, A_TEXT, A_BLOCK_STOP, A_BLOCK_STOP,
                                      A_DELTA, A_STOP]),
            "delta-after-block-stop": _sse([A_START, A_TEXT_START, A_BLOCK_STOP, A_TEXT, A_DELTA,
                                            A_STOP]),
            "message-start-twice": _sse([A_START, *A_OK]),
            "message-delta-twice": _sse([*A_OK[:-1], A_DELTA, A_STOP]),
            "index-string": _sse([A_START, A_TEXT_START.replace('"index": 0', '"index": "0"'),
                                  A_TEXT.replace('"index": 0', '"index": "0"'), *A_OK[3:]]),
            "index-bigint": _sse([A_START, A_TEXT_START.replace('"index": 0', '"index": 1e400'),
                                  *A_OK[2:]]),
            "index-null": _sse([A_START, A_TOOL_START.replace('"index": 0', '"index": null'),
                                A_ARGS.replace('"index": 0', '"index": null'), *A_OK[3:]]),
            "block-null": _sse([A_START, _a("content_block_start", index=0, content_block=None),
                                *A_OK[2:]]),
            "delta-string": _sse([A_START, A_TEXT_START,
                                  _a("content_block_delta", index=0, delta="Hi"), *A_OK[3:]]),
            "message-null": _sse([_a("message_start", message=None), *A_OK[1:]]),
            "usage-string": _sse([*A_OK[:4], _a("message_delta", delta={"stop_reason":
                                  "end_turn"}, usage="lots"), A_STOP]),
            "usage-values": _sse([*A_OK[:4], _a("message_delta", delta={"stop_reason":
                                  "end_turn"}, usage={"output_tokens": "2",
                                  "input_tokens": -1, "cache_read_input_tokens": 1e300}),
                                  A_STOP]),
            "start-usage-string": _sse([A_START.replace('"usage": {"input_tokens": 3, '
                                        '"output_tokens": 1}', '"usage": "x"'), *A_OK[1:]]),
            "stop-reason-object": _sse([*A_OK[:4], _a("message_delta", delta={"stop_reason":
                                        {"a": 1}}, usage={"output_tokens": 2}), A_STOP]),
            "error-odd": _sse([A_START, _a("error", error="boom")]),
            "error-null": _sse([A_START, _a("error", error=None)]),
        }  # fmt: skip
    if upstream == "gemini":
        return {
            "finish-twice": _sse([G_TEXT, G_END, G_END]),
            "text-after-finish": _sse([G_END, G_TEXT]),
            "candidates-null": _sse([_frame({"candidates": None}), G_TEXT, G_END]),
            "candidates-object": _sse([_frame({"candidates": {"a": 1}}), G_TEXT, G_END]),
            "parts-object": _sse([_g({"text": "Hi"}), G_END]),
            "content-string": _sse([_frame({"candidates": [{"content": "Hi"}]}), G_END]),
            "args-string": _sse([_g([{"functionCall": {"name": "f", "args": "{}"}}]), G_END]),
            "args-array": _sse([_g([{"functionCall": {"name": "f", "args": [1]}}]), G_END]),
            "call-null": _sse([_g([{"functionCall": None}]), G_END]),
            "finish-number": _sse([G_TEXT, _g([], 5)]),
            "finish-unknown": _sse([G_TEXT, _g([], "SOMETHING_NEW")]),
            "usage-string": _sse([G_TEXT, _g([], "STOP", usageMetadata="lots")]),
            "usage-values": _sse([G_TEXT, _g([], "STOP", usageMetadata={
                "promptTokenCount": "3", "candidatesTokenCount": -1,
                "thoughtsTokenCount": 1e300, "cachedContentTokenCount": [1]})]),
            "thought-signature-object": _sse([_g([{"text": "Hi", "thoughtSignature": {"a": 1}}]),
                                              G_END]),
            "error-odd": _sse([G_TEXT, _frame({"error": "boom"})]),
            "error-null": _sse([G_TEXT, _frame({"error": None})]),
        }  # fmt: skip
    return {
        "delta-before-added": _sse([R_CREATED, R_TEXT, R_ADDED, *R_OK[2:]]),
        "no-created": _sse(R_OK[1:]),
        "text-unknown-index": _sse([R_CREATED, R_TEXT.replace('"output_index": 0',
                                    '"output_index": 7'), R_DONE]),
        "args-unknown-item": _sse([R_CREATED, R_FN_ARGS.replace('"output_index": 0',
                                   '"output_index": 9'), R_DONE]),
        "args-on-message": _sse([R_CREATED, R_ADDED, R_FN_ARGS, R_ITEM_DONE, R_DONE]),
        "item-added-twice": _sse([R_CREATED, R_FN_ADDED, R_FN_ADDED, R_DONE]),
        "item-done-unknown": _sse([R_CREATED, R_ITEM_DONE.replace('"output_index": 0',
                                   '"output_index": 4'), R_DONE]),
        "completed-twice": _sse([*R_OK, R_DONE]),
        "completed-null": _sse([*R_OK[:-1], _r("response.completed", response=None)]),
        "completed-output-string": _sse([*R_OK[:-1], _r("response.completed",
                                         response=_response("completed", "Hi"))]),
        "index-string": _sse([R_CREATED, R_ADDED.replace('"output_index": 0',
                              '"output_index": "0"'), R_TEXT, R_DONE]),
        "index-bigint": _sse([R_CREATED, R_ADDED.replace('"output_index": 0',
                              '"output_index": 1e400'), R_TEXT, R_DONE]),
        "item-null": _sse([R_CREATED, _r("response.output_item.added", output_index=0,
                           item=None), R_TEXT, R_DONE]),
        "usage-string": _sse([*R_OK[:-1], _r("response.completed", response={
            **_response("completed", RESPONSES_WHOLE["output"]), "usage": "lots"})]),
        "usage-values": _sse([*R_OK[:-1], _r("response.completed", response={
            **_response("completed", RESPONSES_WHOLE["output"]), "usage": {
                "input_tokens": "3", "output_tokens": -1, "total_tokens": 1e300,
                "input_tokens_details": "x", "output_tokens_details": [1]}})]),
        "failed-odd": _sse([R_CREATED, _r("response.failed", response={"error": "boom"})]),
        "error-odd": _sse([R_CREATED, _r("error", code=5, message={"a": 1})]),
        "incomplete-odd": _sse([*R_OK[:-1], _r("response.incomplete", response={
            **_response("incomplete", RESPONSES_WHOLE["output"]),
            "incomplete_details": "x"})]),
    }  # fmt: skip
