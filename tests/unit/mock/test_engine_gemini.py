from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.unit.mock.helpers import body_json, call, header, sse_data
from turnout.mock.content import make_signature

GEN = "/v1beta/models/gemini-x:generateContent"
STREAM = "/v1beta/models/gemini-x:streamGenerateContent"
CONTENTS = [{"role": "user", "parts": [{"text": "What is the weather in Paris today?"}]}]
TOOLS = [
    {
        "functionDeclarations": [
            {
                "name": "get_weather",
                "parameters": {
                    "type": "OBJECT",
                    "properties": {"city": {"type": "STRING"}},
                    "required": ["city"],
                },
            },
            {"name": "other", "parametersJsonSchema": {"type": "object"}},
        ]
    }
]


def req(**extra: Any) -> dict[str, Any]:
    return {"contents": CONTENTS, **extra}


def test_generate_shape() -> None:
    resp = call(GEN, req(), headers={"x-goog-api-key": "k", "x-mock-tokens": "3"})
    data = body_json(resp)
    (cand,) = data["candidates"]
    assert cand["content"] == {"role": "model", "parts": [{"text": "Lorem ipsum dolor"}]}
    assert cand["finishReason"] == "STOP" and cand["index"] == 0
    assert data["usageMetadata"] == {
        "promptTokenCount": 9,
        "candidatesTokenCount": 3,
        "totalTokenCount": 12,
    }
    assert data["modelVersion"] == "gemini-x"
    assert header(resp, "x-mock-request-model") == "gemini-x"
    assert header(resp, "x-mock-auth") == "x-goog-api-key"


@pytest.mark.parametrize("path", ["/v1/models/g:generateContent", "/models/g:generateContent"])
def test_other_api_versions(path: str) -> None:
    assert call(path, req()).status == 200


def test_query_key_auth_style() -> None:
    assert header(call(GEN, req(), query="key=secret"), "x-mock-auth") == "query-key"


def test_max_output_tokens() -> None:
    data = body_json(call(GEN, req(generationConfig={"maxOutputTokens": 2})))
    assert data["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert data["usageMetadata"]["candidatesTokenCount"] == 2


def test_sse_stream_frames() -> None:
    resp = call(STREAM, req(), query="alt=sse", headers={"x-mock-tokens": "4"})
    assert header(resp, "content-type") == "text/event-stream"
    assert resp.frames is not None
    assert all(f.startswith(b"data: ") and f.endswith(b"\r\n\r\n") for f in resp.frames)
    chunks = sse_data(resp)
    assert len(chunks) == 4
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 4
    text = "".join(p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"])
    assert text == "Lorem ipsum dolor sit"


def test_stream_without_alt_sse_is_a_json_array() -> None:
    resp = call(STREAM, req(), headers={"x-mock-tokens": "3"})
    assert header(resp, "content-type") == "application/json"
    assert resp.frames is not None
    items = orjson.loads(b"".join(resp.frames))
    assert isinstance(items, list) and len(items) == 3
    assert items[-1]["candidates"][0]["finishReason"] == "STOP"


FIRST = {"x-mock-tools": "first"}  # tool-call plumbing: call the tool whatever the prompt


def test_function_call() -> None:
    data = body_json(call(GEN, req(tools=TOOLS), headers=FIRST))
    (part,) = data["candidates"][0]["content"]["parts"]
    assert part["functionCall"] == {"name": "get_weather", "args": {"city": "example"}}
    assert data["candidates"][0]["finishReason"] == "STOP"
    forced = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["other"]}}
    data = body_json(call(GEN, req(tools=TOOLS, toolConfig=forced)))
    assert data["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "other"
    none = {"functionCallingConfig": {"mode": "NONE"}}
    data = body_json(call(GEN, req(tools=TOOLS, toolConfig=none)))
    assert "text" in data["candidates"][0]["content"]["parts"][0]


def test_function_response_round_trip() -> None:
    contents = [
        *CONTENTS,
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"forecast": "foggy"}}}
            ],
        },
    ]
    data = body_json(call(GEN, {"contents": contents, "tools": TOOLS}))
    text = data["candidates"][0]["content"]["parts"][0]["text"]
    assert "foggy" in text


def test_foreign_thought_signatures_are_rejected() -> None:
    """Gemini refuses a signature it did not mint, e.g. another provider's state leaking."""
    contents = [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "x", "thoughtSignature": "U1dZAXNzaWc="}]},
        {"role": "user", "parts": [{"text": "go on"}]},
    ]
    resp = call(GEN, {"contents": contents})
    assert resp.status == 400
    assert body_json(resp)["error"]["message"] == "Corrupted thought signature."


def test_thoughts_and_signature() -> None:
    config = {"thinkingConfig": {"includeThoughts": True}}
    data = body_json(call(GEN, req(tools=TOOLS, generationConfig=config), headers=FIRST))
    thought, fc = data["candidates"][0]["content"]["parts"]
    assert thought["thought"] is True and thought["text"]
    assert fc["functionCall"]["name"] == "get_weather" and fc["thoughtSignature"]
    usage = data["usageMetadata"]
    assert usage["thoughtsTokenCount"] > 0
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )


SIGNED = make_signature("g", "1")


def test_signatures_and_images_counted() -> None:
    contents = [
        {
            "role": "user",
            "parts": [
                {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://b/x.jpg"}},
                {"inlineData": {"mimeType": "application/pdf", "data": "AAAA"}},
                {"text": "look"},
            ],
        },
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "f", "args": {}},
                    "thoughtSignature": make_signature("g", "1"),
                }
            ],
        },
        {"role": "user", "parts": [{"text": "go on"}]},
    ]
    resp = call(GEN, {"contents": contents})
    assert header(resp, "x-mock-images-received") == "2"
    assert header(resp, "x-mock-signatures-received") == "1"


def test_count_tokens_and_embeddings() -> None:
    assert body_json(call("/v1beta/models/g:countTokens", req())) == {"totalTokens": 9}
    wrapped = {"generateContentRequest": {"model": "models/g", "contents": CONTENTS}}
    assert body_json(call("/v1beta/models/g:countTokens", wrapped)) == {"totalTokens": 9}
    one = body_json(call("/v1beta/models/e:embedContent", {"content": {"parts": [{"text": "hi"}]}}))
    assert len(one["embedding"]["values"]) == 8
    batch = {
        "requests": [
            {
                "model": "models/e",
                "content": {"parts": [{"text": "hi"}]},
                "outputDimensionality": 3,
            },
            {"model": "models/e", "content": {"parts": [{"text": "yo"}]}},
        ]
    }
    out = body_json(call("/v1beta/models/e:batchEmbedContents", batch))
    assert [len(e["values"]) for e in out["embeddings"]] == [3, 8]


def test_embedding_parts_that_are_no_list_are_a_400_in_geminis_shape() -> None:
    """Before, the mock crashed on them and its connection answered an OpenAI-shaped
    ``malformed HTTP request``, which a gateway relays to a Gemini client as it came."""
    resp = call("/v1beta/models/e:embedContent", {"content": {"parts": 5}})
    assert resp.status == 400
    assert body_json(resp)["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("status", "name"),
    [(429, "RESOURCE_EXHAUSTED"), (503, "UNAVAILABLE"), (400, "INVALID_ARGUMENT")],
)
def test_errors(status: int, name: str) -> None:
    resp = call(GEN, req(), headers={"x-mock-status": str(status)})
    assert resp.status == status
    err = body_json(resp)["error"]
    assert err["code"] == status and err["status"] == name and err["message"]


def test_missing_contents_is_invalid_argument() -> None:
    resp = call(GEN, {})
    assert resp.status == 400
    assert body_json(resp)["error"]["status"] == "INVALID_ARGUMENT"


def test_unknown_action_404_in_gemini_shape() -> None:
    resp = call("/v1beta/models/g:explode", req())
    assert resp.status == 404
    assert body_json(resp)["error"]["status"] == "NOT_FOUND"
