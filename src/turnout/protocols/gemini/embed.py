"""Gemini ``embedContent`` / ``batchEmbedContents`` to OpenAI-compatible embeddings and back.

Embeddings do not go through the generation IR (there is nothing conversational in them): the
request is a list of texts and an optional size, the answer a list of vectors, so this module
maps the two wire shapes directly. It is registered on the Gemini descriptor
(``embed_to["openai"]``) and used by :mod:`turnout.providers.translate` for any provider that
speaks OpenAI (OpenAI itself, OpenAI-compatible servers, Azure).

What crosses and what does not:

- each request's ``content.parts[].text`` becomes one ``input`` string (several text parts of one
  content are joined with a newline, as one embedding of the whole content); any other part
  (``inlineData``, ``fileData``) is a 400, since an OpenAI embeddings endpoint takes text only;
- ``outputDimensionality`` becomes ``dimensions``; a batch must ask for one size throughout
  (OpenAI takes one per request), otherwise a 400 names the field;
- ``taskType`` and ``title`` are hints an OpenAI model has no field for: they are type-checked
  and dropped, so the same client code works against either upstream;
- the answer's ``data[].embedding`` (floats, in ``index`` order) becomes ``embedding.values`` or
  ``embeddings[].values``; its ``usage.prompt_tokens`` is the call's input tokens.

Every client byte is hostile: a field of the wrong type is a :class:`BadRequest` naming it, which
the API layer writes in Gemini's error shape. An upstream answer of the wrong shape raises
:class:`ValueError`, which the translator reports as the upstream's failure (502).
"""

from __future__ import annotations

from typing import Any

from turnout.errors import BadRequest, TranslationUnsupported
from turnout.ir import Usage
from turnout.types import Call

JSON = dict[str, Any]
_DROPPED = ("taskType", "task_type", "title")


def _text_of(content: Any, where: str) -> str:
    if not isinstance(content, dict):
        raise BadRequest(f"{where}: expected an object with parts", param=where)
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise BadRequest(f"{where}.parts: expected a non-empty array", param=f"{where}.parts")
    texts: list[str] = []
    for i, part in enumerate(parts):
        here = f"{where}.parts[{i}]"
        if not isinstance(part, dict):
            raise BadRequest(f"{here}: expected an object", param=here)
        text = part.get("text")
        if text is None:
            raise TranslationUnsupported(
                f"{here}: only text parts can be embedded by an OpenAI-compatible model",
                param=here,
            )
        if not isinstance(text, str):
            raise BadRequest(f"{here}.text: expected a string", param=f"{here}.text")
        texts.append(text)
    return "\n".join(texts)


def _dimensions(request: JSON, where: str) -> int | None:
    name = "outputDimensionality" if "outputDimensionality" in request else "output_dimensionality"
    value = request.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        field = f"{where}{name}"
        raise BadRequest(f"{field}: expected a positive integer", param=field)
    return value


def _one(request: Any, where: str) -> tuple[str, int | None]:
    """(text, dimensions) of one EmbedContentRequest; ``where`` prefixes field names."""
    if not isinstance(request, dict):
        field = where.rstrip(".") or "request"
        raise BadRequest(f"{field}: expected an object", param=field)
    for name in _DROPPED:
        if request.get(name) is not None and not isinstance(request[name], str):
            raise BadRequest(f"{where}{name}: expected a string", param=f"{where}{name}")
    return _text_of(request.get("content"), f"{where}content"), _dimensions(request, where)


def request_to_openai(call: Call, upstream_model: str) -> JSON:
    """The OpenAI embeddings body for a Gemini embedContent or batchEmbedContents call."""
    data = call.data
    if call.operation == "batchEmbedContents":
        requests = data.get("requests")
        if not isinstance(requests, list) or not requests:
            raise BadRequest("requests: expected a non-empty array", param="requests")
        items = [_one(r, f"requests[{i}].") for i, r in enumerate(requests)]
    else:
        items = [_one(data, "")]
    sizes = {dims for _, dims in items}
    if len(sizes) > 1:
        raise TranslationUnsupported(
            "outputDimensionality: every request of a batch must ask for the same size "
            "when the model is served by an OpenAI-compatible upstream",
            param="outputDimensionality",
        )
    body: JSON = {
        "model": upstream_model,
        "input": [text for text, _ in items],
        "encoding_format": "float",
    }
    if (dims := sizes.pop()) is not None:
        body["dimensions"] = dims
    return body


def _vector(item: Any, i: int) -> tuple[int, list[float]]:
    if not isinstance(item, dict):
        raise ValueError(f"data[{i}] is not an object")
    index = item.get("index", i)
    values = item.get("embedding")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"data[{i}].index is not an integer")
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"data[{i}].embedding is not an array of numbers")
    return index, values


def response_from_openai(call: Call, payload: JSON) -> tuple[JSON, Usage | None]:
    """The Gemini answer (and the usage) for an OpenAI embeddings answer to ``call``."""
    data = payload.get("data")
    if not isinstance(data, list):
        raise ValueError("data is not an array")
    wanted = len(call.data["requests"]) if call.operation == "batchEmbedContents" else 1
    vectors = dict(_vector(item, i) for i, item in enumerate(data))
    if sorted(vectors) != list(range(wanted)):
        raise ValueError(f"expected {wanted} embeddings, one per index, got {len(data)}")
    usage = None
    reported = payload.get("usage")
    if isinstance(reported, dict):
        tokens = reported.get("prompt_tokens")
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0:
            usage = Usage(input_tokens=tokens, total_tokens=tokens)
    if call.operation == "batchEmbedContents":
        return {"embeddings": [{"values": vectors[i]} for i in range(wanted)]}, usage
    return {"embedding": {"values": vectors[0]}}, usage


__all__ = ["request_to_openai", "response_from_openai"]
