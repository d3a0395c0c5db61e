"""Let the official SDKs parse what we emit: if their parsers fail, we are wrong."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import httpx2
import openai
from google import genai
from google.genai import types as genai_types


def _transport(raw: bytes, status: int = 200, stream: bool = True) -> httpx.MockTransport:
    ctype = "text/event-stream" if stream else "application/json"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"content-type": ctype}, content=raw)

    return httpx.MockTransport(handler)


def _transport2(raw: bytes, status: int = 200, stream: bool = True) -> httpx2.MockTransport:
    """anthropic 2.x runs on httpx2 and rejects httpx objects."""
    ctype = "text/event-stream" if stream else "application/json"

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers={"content-type": ctype}, content=raw)

    return httpx2.MockTransport(handler)


def openai_client(raw: bytes, status: int = 200, stream: bool = True) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="k",
        base_url="http://gw/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=_transport2(raw, status, stream)),
    )


def anthropic_client(raw: bytes, status: int = 200, stream: bool = True) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="k",
        base_url="http://gw",
        max_retries=0,
        http_client=httpx2.Client(transport=_transport2(raw, status, stream)),
    )


def genai_client(raw: bytes, status: int = 200, stream: bool = True) -> genai.Client:
    options = genai_types.HttpOptions(
        base_url="http://gw/",
        api_version="v1beta",
        httpx_client=httpx.Client(transport=_transport(raw, status, stream)),
    )
    return genai.Client(api_key="k", http_options=options)


MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]


def openai_stream(raw: bytes) -> tuple[list[Any], Any]:
    client = openai_client(raw)
    chunks = list(
        client.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    with client.chat.completions.stream(model="m", messages=MESSAGES) as helper:
        final = helper.get_final_completion()
    return chunks, final


def anthropic_stream(raw: bytes) -> tuple[list[Any], Any]:
    client = anthropic_client(raw)
    events = list(client.messages.create(model="m", max_tokens=10, messages=MESSAGES, stream=True))
    with client.messages.stream(model="m", max_tokens=10, messages=MESSAGES) as helper:
        final = helper.get_final_message()
    return events, final


def genai_stream(raw: bytes) -> list[Any]:
    client = genai_client(raw)
    return list(client.models.generate_content_stream(model="m", contents="hi"))
