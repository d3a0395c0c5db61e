"""Read bytes the way each official SDK does, and reduce what it saw to comparable facts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai
from google import genai
from google.genai import types as gt

from tests.unit.protocols.sdk import _transport, _transport2

import httpx2  # isort: skip  (anthropic 2.x transport)


@dataclass
class Seen:
    text: str = ""
    thinking: str = ""
    calls: list[tuple[str, Any]] = field(default_factory=list)
    finish: str | None = None
    output_tokens: int | None = None


def _openai(raw: bytes, stream: bool) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="k",
        base_url="http://gw/v1",
        max_retries=0,
        _strict_response_validation=True,
        http_client=httpx2.Client(transport=_transport2(raw, 200, stream)),
    )


def _anthropic(raw: bytes, stream: bool) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="k",
        base_url="http://gw",
        max_retries=0,
        http_client=httpx2.Client(transport=_transport2(raw, 200, stream)),
    )


def _genai(raw: bytes, stream: bool) -> genai.Client:
    options = gt.HttpOptions(
        base_url="http://gw/",
        api_version="v1beta",
        httpx_client=httpx.Client(transport=_transport(raw, 200, stream)),
    )
    return genai.Client(api_key="k", http_options=options)


MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]


def read(protocol: str, raw: bytes, stream: bool) -> Seen:
    return _READERS[protocol](raw, stream)


def _read_openai(raw: bytes, stream: bool) -> Seen:
    client = _openai(raw, stream)
    done: Any
    if stream:
        chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
        assert chunks and all(c.object == "chat.completion.chunk" for c in chunks)
        with client.chat.completions.stream(model="m", messages=MESSAGES) as helper:
            done = helper.get_final_completion()
    else:
        done = client.chat.completions.create(model="m", messages=MESSAGES)
    message = done.choices[0].message
    extra = message.model_extra or {}
    return Seen(
        text=message.content or "",
        thinking=extra.get("reasoning_content") or "",
        calls=[
            (c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []
        ],
        finish=done.choices[0].finish_reason,
        output_tokens=done.usage.completion_tokens if done.usage else None,
    )


def _read_anthropic(raw: bytes, stream: bool) -> Seen:
    client = _anthropic(raw, stream)
    msg: Any
    if stream:
        with client.messages.stream(model="m", max_tokens=10, messages=MESSAGES) as helper:
            msg = helper.get_final_message()
    else:
        msg = client.messages.create(model="m", max_tokens=10, messages=MESSAGES)
    seen = Seen(finish=msg.stop_reason, output_tokens=msg.usage.output_tokens)
    for block in msg.content:
        if block.type == "text":
            seen.text += block.text
        elif block.type == "thinking":
            assert block.signature, "a thinking block lost its signature"
            seen.thinking += block.thinking
        elif block.type == "tool_use":
            seen.calls.append((block.name, block.input))
    return seen


def _read_genai(raw: bytes, stream: bool) -> Seen:
    client = _genai(raw, stream)
    if stream:
        responses = list(client.models.generate_content_stream(model="m", contents="hi"))
    else:
        responses = [client.models.generate_content(model="m", contents="hi")]
    seen = Seen()
    for resp in responses:
        for cand in resp.candidates or []:
            for part in (cand.content.parts if cand.content else None) or []:
                if part.thought and part.text:
                    seen.thinking += part.text
                elif part.text:
                    seen.text += part.text
                if part.function_call is not None:
                    call = part.function_call
                    seen.calls.append((call.name or "", call.args))
            if cand.finish_reason is not None:
                seen.finish = cand.finish_reason.value
        if resp.usage_metadata is not None:
            seen.output_tokens = resp.usage_metadata.candidates_token_count
    return seen


_READERS = {"openai": _read_openai, "anthropic": _read_anthropic, "gemini": _read_genai}
