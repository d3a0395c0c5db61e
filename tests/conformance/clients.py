"""The three official SDKs behind one small interface, so one scenario list runs on every cell.

Each adapter speaks its SDK the way an application would (typed responses, the SDK's stream
helpers, its own exceptions) and reports what the SDK exposes in an :class:`Answer`; the
scenarios then assert on the SDK's own values (finish reasons, usage fields). Nothing here
parses wire bytes: if an SDK cannot read what the gateway sent, the adapter raises.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt
from openai.types.responses import ResponseInputMessageItem, ResponseInputText, ResponseItem

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
QUESTION = "What is the weather in Paris?"
TOOL_NAME = "get_weather"
# The mock calls a tool only when asked to; these scenarios test the plumbing of any call.
TOOL_HEADERS = {"x-mock-tools": "first"}
TOOL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}
TOOL_ARGS = {"city": "example", "days": 1}  # what the mock fills in for TOOL_SCHEMA
TOOL_RESULT = {"temp_c": 21}


def input_text(item: ResponseItem) -> str:
    """The text of a listed input message's first part (an input item a user's turn left)."""
    assert isinstance(item, ResponseInputMessageItem), item
    part = item.content[0]
    assert isinstance(part, ResponseInputText), part
    return part.text


@dataclass
class Call:
    id: str | None
    name: str
    args: dict[str, Any]


@dataclass
class Answer:
    """What the application sees, in the SDK's own terms."""

    text: str = ""
    finish: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    calls: list[Call] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    turn: Any = None  # the assistant turn as the SDK returned it, echoed in the next request
    thinking: bool = False  # the SDK saw reasoning content


class Client:
    """What a scenario needs from an SDK."""

    def __init__(self, url: str) -> None:
        raise NotImplementedError

    name: str
    stop: str  # the SDK's finish value for a plain answer ...
    tool_stop: str  # ... and for a tool call
    errors: dict[int, type[Exception]]  # HTTP status -> the SDK's exception class

    def ask(
        self,
        model: str,
        *,
        stream: bool = False,
        tokens: int = 5,
        image: bool = False,
        tools: bool = False,
        thinking: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        raise NotImplementedError

    def answer_tool(self, model: str, first: Answer, *, stream: bool, thinking: bool) -> Answer:
        """Turn 2 of an agent loop: echo the assistant turn, answer its call."""
        raise NotImplementedError

    def in_band_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the SDK reading an error the gateway wrote into the stream."""
        raise NotImplementedError


# -- OpenAI ------------------------------------------------------------------------------------


class OpenAIClient(Client):
    name = "openai"
    stop, tool_stop = "stop", "tool_calls"
    errors = {
        400: openai.BadRequestError,
        429: openai.RateLimitError,
        503: openai.InternalServerError,
    }

    def __init__(self, url: str) -> None:
        self.sdk = openai.OpenAI(
            api_key="sk-client-openai",
            base_url=url + "/v1",
            max_retries=0,
            _strict_response_validation=True,
        )

    def _user(self, image: bool) -> dict[str, Any]:
        if not image:
            return {"role": "user", "content": QUESTION}
        url = f"data:image/png;base64,{PNG_B64}"
        return {
            "role": "user",
            "content": [
                {"type": "text", "text": QUESTION},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }

    def _run(
        self,
        model: str,
        messages: list[Any],
        stream: bool,
        tools: bool,
        thinking: bool,
        headers: dict[str, str],
    ) -> Answer:
        kwargs: dict[str, Any] = {"model": model, "messages": messages, "extra_headers": headers}
        if tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {"name": TOOL_NAME, "parameters": TOOL_SCHEMA},
                }
            ]
        if thinking:
            kwargs["reasoning_effort"] = "medium"
        if stream:
            with self.sdk.chat.completions.stream(
                **kwargs, stream_options={"include_usage": True}
            ) as s:
                for _ in s:
                    pass
                completion: Any = s.get_final_completion()
                response_headers = dict(s._response.headers)  # no public accessor
        else:
            raw = self.sdk.chat.completions.with_raw_response.create(**kwargs)
            completion = raw.parse()
            response_headers = dict(raw.headers)
        choice = completion.choices[0]
        message = choice.message
        calls = [
            Call(tc.id, tc.function.name, json.loads(tc.function.arguments))
            for tc in message.tool_calls or []
        ]
        extra = message.model_extra or {}
        return Answer(
            text=message.content or "",
            finish=choice.finish_reason,
            input_tokens=completion.usage.prompt_tokens if completion.usage else None,
            output_tokens=completion.usage.completion_tokens if completion.usage else None,
            calls=calls,
            headers=response_headers,
            turn=message,
            thinking=bool(extra.get("reasoning_content")),
        )

    def ask(
        self,
        model: str,
        *,
        stream: bool = False,
        tokens: int = 5,
        image: bool = False,
        tools: bool = False,
        thinking: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        hdrs = {"x-mock-tokens": str(tokens), **(TOOL_HEADERS if tools else {}), **(headers or {})}
        return self._run(model, [self._user(image)], stream, tools, thinking, hdrs)

    def answer_tool(self, model: str, first: Answer, *, stream: bool, thinking: bool) -> Answer:
        call = first.calls[0]
        assistant = first.turn.model_dump(exclude_none=True, exclude={"parsed"})
        for tc in assistant.get("tool_calls", []):
            tc.get("function", {}).pop("parsed_arguments", None)
        messages = [
            self._user(False),
            assistant,
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps(TOOL_RESULT)},
        ]
        return self._run(model, messages, stream, True, thinking, {"x-mock-tokens": "5"})

    def in_band_error(self, exc: BaseException) -> bool:
        return isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError)


# -- Anthropic ---------------------------------------------------------------------------------


class AnthropicClient(Client):
    name = "anthropic"
    stop, tool_stop = "end_turn", "tool_use"
    errors = {
        400: anthropic.BadRequestError,
        429: anthropic.RateLimitError,
        503: anthropic.ServiceUnavailableError,
    }

    def __init__(self, url: str) -> None:
        self.sdk = anthropic.Anthropic(
            api_key="sk-client-anthropic",
            base_url=url,
            max_retries=0,
            _strict_response_validation=True,
        )

    def _user(self, image: bool) -> dict[str, Any]:
        if not image:
            return {"role": "user", "content": QUESTION}
        source = {"type": "base64", "media_type": "image/png", "data": PNG_B64}
        return {
            "role": "user",
            "content": [{"type": "image", "source": source}, {"type": "text", "text": QUESTION}],
        }

    def _run(
        self,
        model: str,
        messages: list[Any],
        stream: bool,
        tools: bool,
        thinking: bool,
        headers: dict[str, str],
    ) -> Answer:
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": 2048,
            "extra_headers": headers,
        }
        if tools:
            kwargs["tools"] = [{"name": TOOL_NAME, "input_schema": TOOL_SCHEMA}]
        if thinking:
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": 1024}
        if stream:
            with self.sdk.messages.stream(**kwargs) as s:
                for _ in s:
                    pass
                message: Any = s.get_final_message()
                response_headers = dict(s.response.headers)
        else:
            raw = self.sdk.messages.with_raw_response.create(**kwargs)
            message = raw.parse()
            response_headers = dict(raw.headers)
        blocks = message.content
        return Answer(
            text="".join(b.text for b in blocks if b.type == "text"),
            finish=message.stop_reason,
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            calls=[Call(b.id, b.name, dict(b.input)) for b in blocks if b.type == "tool_use"],
            headers=response_headers,
            turn=blocks,
            thinking=any(b.type == "thinking" for b in blocks),
        )

    def ask(
        self,
        model: str,
        *,
        stream: bool = False,
        tokens: int = 5,
        image: bool = False,
        tools: bool = False,
        thinking: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        hdrs = {"x-mock-tokens": str(tokens), **(TOOL_HEADERS if tools else {}), **(headers or {})}
        return self._run(model, [self._user(image)], stream, tools, thinking, hdrs)

    def answer_tool(self, model: str, first: Answer, *, stream: bool, thinking: bool) -> Answer:
        call = first.calls[0]
        result = {"type": "tool_result", "tool_use_id": call.id, "content": json.dumps(TOOL_RESULT)}
        messages = [
            self._user(False),
            {"role": "assistant", "content": first.turn},
            {"role": "user", "content": [result]},
        ]
        return self._run(model, messages, stream, True, thinking, {"x-mock-tokens": "5"})

    def in_band_error(self, exc: BaseException) -> bool:
        return isinstance(exc, anthropic.APIStatusError)


# -- Gemini ------------------------------------------------------------------------------------


class GeminiClient(Client):
    name = "gemini"
    stop = tool_stop = "STOP"
    errors = {
        400: genai_errors.ClientError,
        429: genai_errors.ClientError,
        503: genai_errors.ServerError,
    }

    def __init__(self, url: str) -> None:
        # Kept on the adapter: google-genai 3.x closes a client that is garbage collected.
        self.sdk = genai.Client(
            api_key="client-gemini-key",
            http_options=gt.HttpOptions(base_url=url, api_version="v1beta"),
        )

    def _user(self, image: bool) -> gt.Content:
        parts = [gt.Part(text=QUESTION)]
        if image:
            parts.insert(0, gt.Part.from_bytes(data=PNG, mime_type="image/png"))
        return gt.Content(role="user", parts=parts)

    def _run(
        self,
        model: str,
        contents: list[gt.Content],
        stream: bool,
        tools: bool,
        thinking: bool,
        headers: dict[str, str],
    ) -> Answer:
        config = gt.GenerateContentConfig(http_options=gt.HttpOptions(headers=headers))
        if tools:
            decl = gt.FunctionDeclaration(name=TOOL_NAME, parameters_json_schema=TOOL_SCHEMA)
            config.tools = [gt.Tool(function_declarations=[decl])]
            config.automatic_function_calling = gt.AutomaticFunctionCallingConfig(disable=True)
        if thinking:
            config.thinking_config = gt.ThinkingConfig(thinking_budget=1024, include_thoughts=True)
        if stream:
            chunks = list(
                self.sdk.models.generate_content_stream(
                    model=model, contents=contents, config=config
                )
            )
        else:
            chunks = [
                self.sdk.models.generate_content(model=model, contents=contents, config=config)
            ]
        parts: list[gt.Part] = []
        finish = usage = None
        for chunk in chunks:
            candidate = chunk.candidates[0] if chunk.candidates else None
            if candidate is not None and candidate.content and candidate.content.parts:
                parts.extend(candidate.content.parts)
            if candidate is not None and candidate.finish_reason is not None:
                finish = candidate.finish_reason.value
            usage = chunk.usage_metadata or usage
        http = chunks[0].sdk_http_response
        calls = [
            Call(p.function_call.id, p.function_call.name or "", dict(p.function_call.args or {}))
            for p in parts
            if p.function_call
        ]
        return Answer(
            text="".join(p.text for p in parts if p.text and not p.thought),
            finish=finish,
            input_tokens=usage.prompt_token_count if usage else None,
            output_tokens=usage.candidates_token_count if usage else None,
            calls=calls,
            headers=dict(http.headers or {}) if http else {},
            turn=gt.Content(role="model", parts=parts),
            thinking=any(p.thought for p in parts),
        )

    def ask(
        self,
        model: str,
        *,
        stream: bool = False,
        tokens: int = 5,
        image: bool = False,
        tools: bool = False,
        thinking: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        hdrs = {"x-mock-tokens": str(tokens), **(TOOL_HEADERS if tools else {}), **(headers or {})}
        return self._run(model, [self._user(image)], stream, tools, thinking, hdrs)

    def answer_tool(self, model: str, first: Answer, *, stream: bool, thinking: bool) -> Answer:
        call = first.calls[0]
        response = gt.FunctionResponse(id=call.id, name=call.name, response=TOOL_RESULT)
        contents = [
            self._user(False),
            first.turn,
            gt.Content(role="user", parts=[gt.Part(function_response=response)]),
        ]
        return self._run(model, contents, stream, True, thinking, {"x-mock-tokens": "5"})

    def in_band_error(self, exc: BaseException) -> bool:
        return isinstance(exc, genai_errors.APIError)


# -- OpenAI Responses API ----------------------------------------------------------------------


class ResponsesClient(Client):
    """The OpenAI SDK's Responses API: ``responses.create`` for whole answers,
    ``responses.stream`` (the SDK's accumulator) for streams. A response has no finish reason;
    the adapter reports ``function_call`` when it called a tool, its status otherwise. An agent
    loop is stateless (``store: false``): turn 2 sends back every output item of turn 1."""

    name = "responses"
    stop, tool_stop = "completed", "function_call"
    errors = OpenAIClient.errors

    def __init__(self, url: str) -> None:
        self.sdk = openai.OpenAI(
            api_key="sk-client-openai",
            base_url=url + "/v1",
            max_retries=0,
            _strict_response_validation=True,
        )

    def _user(self, image: bool) -> dict[str, Any]:
        if not image:
            return {"role": "user", "content": QUESTION}
        url = f"data:image/png;base64,{PNG_B64}"
        return {
            "role": "user",
            "content": [
                {"type": "input_text", "text": QUESTION},
                {"type": "input_image", "image_url": url, "detail": "auto"},
            ],
        }

    def run(
        self,
        model: str,
        items: list[Any],
        *,
        stream: bool,
        tools: bool,
        thinking: bool,
        headers: dict[str, str],
        text_format: Any = None,
    ) -> Answer:
        kwargs: dict[str, Any] = {
            "model": model,
            "input": items,
            "store": False,
            "extra_headers": headers,
        }
        if tools:
            kwargs["tools"] = [
                {"type": "function", "name": TOOL_NAME, "parameters": TOOL_SCHEMA, "strict": False}
            ]
        if thinking:
            kwargs["reasoning"] = {"effort": "medium", "summary": "auto"}
            kwargs["include"] = ["reasoning.encrypted_content"]
        if text_format is not None:
            kwargs["text_format"] = text_format
        if stream:
            with self.sdk.responses.stream(**kwargs) as s:
                for _ in s:
                    pass
                response: Any = s.get_final_response()
                response_headers = dict(s._response.headers)  # no public accessor
        elif text_format is not None:
            raw = self.sdk.responses.with_raw_response.parse(**kwargs)
            response = raw.parse()
            response_headers = dict(raw.headers)
        else:
            raw = self.sdk.responses.with_raw_response.create(**kwargs)
            response = raw.parse()
            response_headers = dict(raw.headers)
        calls = [
            Call(item.call_id, item.name, json.loads(item.arguments))
            for item in response.output
            if item.type == "function_call"
        ]
        usage = response.usage
        return Answer(
            text=response.output_text,
            finish="function_call" if calls else response.status,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            calls=calls,
            headers=response_headers,
            turn=response,
            thinking=any(
                item.type == "reasoning" and any(s.text for s in item.summary)
                for item in response.output
            ),
        )

    def ask(
        self,
        model: str,
        *,
        stream: bool = False,
        tokens: int = 5,
        image: bool = False,
        tools: bool = False,
        thinking: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        hdrs = {"x-mock-tokens": str(tokens), **(TOOL_HEADERS if tools else {}), **(headers or {})}
        return self.run(
            model, [self._user(image)], stream=stream, tools=tools, thinking=thinking, headers=hdrs
        )

    @staticmethod
    def echo(response: Any) -> list[dict[str, Any]]:
        """The output items as an application sends them back (the SDK's parsed extras off)."""
        items = []
        for item in response.output:
            data = item.model_dump(exclude_none=True, exclude={"parsed_arguments"})
            for part in data.get("content") or ():
                part.pop("parsed", None)
            items.append(data)
        return items

    def answer_tool(self, model: str, first: Answer, *, stream: bool, thinking: bool) -> Answer:
        call = first.calls[0]
        items = [
            self._user(False),
            *self.echo(first.turn),
            {"type": "function_call_output", "call_id": call.id, "output": json.dumps(TOOL_RESULT)},
        ]
        return self.run(
            model, items, stream=stream, tools=True, thinking=thinking,
            headers={"x-mock-tokens": "5"},
        )  # fmt: skip

    def in_band_error(self, exc: BaseException) -> bool:
        return isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError)


CLIENTS: dict[str, type[Client]] = {
    "openai": OpenAIClient,
    "anthropic": AnthropicClient,
    "gemini": GeminiClient,
}
