"""Signed thinking comes back byte for byte, however the client reshapes what it was shown.

Anthropic verifies a thinking block's text against its signature: one byte off and the next
turn is a 400 ("Invalid `signature` in `thinking` block"), and so does the mock (strictly).
The text reaches a Gemini client as many ``thought`` parts (one per streamed delta), and
clients do what they like with them: a google-genai chat session records one ``Content`` per
streamed chunk, others join consecutive parts, split them, or drop thought text from history.
Whatever they send back, the thinking block that reaches Anthropic must be the original.

The same property is checked for every client protocol that carries reasoning to an upstream
that verifies it (Anthropic; Gemini, whose signatures the mock also checks), streamed and not,
by ``test_reasoning.py``; this module covers the reshaping a Gemini client may do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google import genai
from google.genai import types as gt

from tests.conformance.clients import QUESTION, TOOL_NAME, TOOL_RESULT, TOOL_SCHEMA, GeminiClient
from tests.conformance.conftest import PROVIDER_TYPES, model_for
from tests.support.procs import Proc

Reshape = Callable[[list[gt.Content]], list[gt.Content]]


@pytest.fixture(scope="module")
def client(gw: Proc) -> Iterator[GeminiClient]:
    yield GeminiClient(gw.url)


def _config() -> gt.GenerateContentConfig:
    decl = gt.FunctionDeclaration(name=TOOL_NAME, parameters_json_schema=TOOL_SCHEMA)
    return gt.GenerateContentConfig(
        tools=[gt.Tool(function_declarations=[decl])],
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True),
        thinking_config=gt.ThinkingConfig(thinking_budget=1024, include_thoughts=True),
        # The mock calls the offered tool although the question does not name it.
        http_options=gt.HttpOptions(headers={"x-mock-tokens": "5", "x-mock-tools": "first"}),
    )


def _answer(call: gt.FunctionCall) -> gt.Part:
    return gt.Part(
        function_response=gt.FunctionResponse(id=call.id, name=call.name, response=TOOL_RESULT)
    )


def _chat_session(sdk: genai.Client, model: str) -> tuple[str, Any]:
    """The google-genai chat API: its history keeps one model Content per streamed chunk."""
    chat = sdk.chats.create(model=model, config=_config())
    calls = [c for chunk in chat.send_message_stream(QUESTION) for c in chunk.function_calls or []]
    assert [c.name for c in calls] == [TOOL_NAME]
    history = chat.get_history()
    model_turns = [c for c in history if c.role == "model"]
    assert len(model_turns) > 2  # the thinking really arrived in many pieces
    chunks = list(chat.send_message_stream(_answer(calls[0])))
    text = "".join(c.text or "" for c in chunks)
    return text, chunks[0].sdk_http_response


def _one_content(parts: list[gt.Part]) -> list[gt.Content]:
    return [gt.Content(role="model", parts=parts)]


def _joined(contents: list[gt.Content]) -> list[gt.Content]:
    """Every thought part joined into one (signature and all), then the rest."""
    parts = [p for c in contents for p in c.parts or []]
    thoughts = [p for p in parts if p.thought]
    signature = next((p.thought_signature for p in thoughts if p.thought_signature), None)
    joined = gt.Part(
        text="".join(p.text or "" for p in thoughts), thought=True, thought_signature=signature
    )
    return _one_content([joined, *(p for p in parts if not p.thought)])


def _split(contents: list[gt.Content]) -> list[gt.Content]:
    """Each thought part cut in two, each half its own Content."""
    out: list[gt.Content] = []
    for content in contents:
        for part in content.parts or []:
            text = part.text or ""
            if part.thought and len(text) > 1 and not part.thought_signature:
                half = len(text) // 2
                out.append(_one_content([gt.Part(text=text[:half], thought=True)])[0])
                out.append(_one_content([gt.Part(text=text[half:], thought=True)])[0])
            else:
                out.append(_one_content([part])[0])
    return out


def _text_dropped(contents: list[gt.Content]) -> list[gt.Content]:
    """Thought text left out of the history, signatures kept (what some agents do)."""
    parts = [p for c in contents for p in c.parts or []]
    kept = [p for p in parts if not p.thought or p.thought_signature]
    return _one_content(
        [
            gt.Part(text="", thought=True, thought_signature=p.thought_signature)
            if p.thought
            else p
            for p in kept
        ]
    )


def _per_chunk(contents: list[gt.Content]) -> list[gt.Content]:
    return contents


RESHAPES: dict[str, Reshape] = {
    "per-chunk": _per_chunk,
    "joined": _joined,
    "split": _split,
    "text-dropped": _text_dropped,
}


def _turns(sdk: genai.Client, model: str, stream: bool, reshape: Reshape) -> Any:
    user = gt.Content(role="user", parts=[gt.Part(text=QUESTION)])
    if stream:
        chunks = list(
            sdk.models.generate_content_stream(model=model, contents=[user], config=_config())
        )
    else:
        chunks = [sdk.models.generate_content(model=model, contents=[user], config=_config())]
    contents = [c.candidates[0].content for c in chunks if c.candidates and c.candidates[0].content]
    calls = [p.function_call for c in contents for p in c.parts or [] if p.function_call]
    assert [c.name for c in calls] == [TOOL_NAME]
    history = reshape([gt.Content(role="model", parts=c.parts) for c in contents])
    follow = [user, *history, gt.Content(role="user", parts=[_answer(calls[0])])]
    raw = sdk.models.generate_content(model=model, contents=follow, config=_config())
    return raw


@pytest.mark.parametrize("provider", [p for p in PROVIDER_TYPES if p != "openai"])
def test_chat_session_streamed_tool_loop(client: GeminiClient, provider: str) -> None:
    """The reported defect: google-genai chat, streamed, Anthropic with extended thinking."""
    text, http = _chat_session(client.sdk, model_for(provider))
    assert text.startswith("Tool result:"), text
    assert http.headers["x-mock-signatures-received"] == "1"


@pytest.mark.parametrize("reshape", list(RESHAPES))
@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
def test_reshaped_thoughts_round_trip_to_anthropic(
    client: GeminiClient, reshape: str, stream: bool
) -> None:
    answer = _turns(client.sdk, model_for("anthropic"), stream, RESHAPES[reshape])
    assert (answer.text or "").startswith("Tool result:"), answer.text
    assert answer.sdk_http_response.headers["x-mock-signatures-received"] == "1"
