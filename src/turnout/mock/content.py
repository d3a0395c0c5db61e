"""Deterministic content for mock responses.

Everything here is a pure function of its inputs (apart from :func:`new_uid`), so a test can
predict the text, token counts, tool arguments and embeddings a request will get back, and a
benchmark compares like with like across runs.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

WORDS: Final = [
    "Lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "Ut",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "ut",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
]
THINKING_PIECES: Final = ("Let", " me", " think", " this", " through", " step", " by", " step.")
EMBEDDING_DIMS: Final = 8
UID_HEX_LEN: Final = 24

# Keys whose string values are not prompt text: identifiers, enums, media payloads and
# opaque signatures would otherwise dominate the estimate (a base64 image is megabytes).
_NOT_TEXT: Final = frozenset(
    {
        "url",
        "data",
        "signature",
        "thoughtSignature",
        "thought_signature",
        "type",
        "role",
        "id",
        "tool_call_id",
        "tool_use_id",
        "mimeType",
        "mime_type",
        "media_type",
        "fileUri",
        "file_uri",
        "detail",
        "cache_control",
    }
)
_SIGNATURE_KEYS: Final = ("signature", "thoughtSignature", "thought_signature")


def new_uid() -> str:
    """A fresh id suffix; fixed length so a server can splice a new one into cached bytes."""
    return os.urandom(UID_HEX_LEN // 2).hex()


def _make_pieces(count: int) -> list[str]:
    return [(" " if i else "") + WORDS[i % len(WORDS)] for i in range(count)]


_PIECES: Final = tuple(_make_pieces(1024))  # built once: every uncached request needs some


def text_pieces(count: int) -> list[str]:
    """``count`` word-sized pieces; joined they read as text, one piece per stream chunk."""
    return list(_PIECES[:count]) if count <= len(_PIECES) else _make_pieces(count)


def estimate_tokens(chars: int) -> int:
    """The mock's tokenizer: four characters a token, never zero (real APIs never bill 0)."""
    return max(1, math.ceil(chars / 4))


def count_chars(obj: Any) -> int:
    """Length of the prompt text inside a JSON value, skipping media and identifiers."""
    if isinstance(obj, str):
        return len(obj)
    if isinstance(obj, list):
        return sum(count_chars(item) for item in obj)
    if isinstance(obj, dict):
        return sum(count_chars(v) for k, v in obj.items() if k not in _NOT_TEXT)
    return 0


@dataclass(slots=True)
class PromptScan:
    chars: int = 0
    images: int = 0
    signatures: int = 0


def scan_prompt(obj: Any, is_image: Callable[[dict[str, Any]], bool]) -> PromptScan:
    """Prompt size, image parts and returned signatures in one pass over the messages.

    One pass instead of three because this runs for every uncached request of a benchmark.
    """
    out = PromptScan()
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, str):
            out.chars += len(cur)
        elif isinstance(cur, list):
            stack.extend(cur)
        elif isinstance(cur, dict):
            if is_image(cur):
                out.images += 1
            for key, value in cur.items():
                if key in _SIGNATURE_KEYS:
                    out.signatures += 1 if isinstance(value, str) and value else 0
                elif key in _NOT_TEXT:
                    continue
                elif isinstance(value, str):
                    out.chars += len(value)
                elif isinstance(value, list | dict):
                    stack.append(value)
    return out


def walk_dicts(obj: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object nested in ``obj`` (depth first), to count parts of a given kind."""
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            yield cur
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)


def count_signatures(obj: Any) -> int:
    """Reasoning signatures sent back by the client (Anthropic thinking, Gemini thoughts)."""
    return sum(
        1
        for d in walk_dicts(obj)
        for key in _SIGNATURE_KEYS
        if isinstance(d.get(key), str) and d[key]
    )


_SIGNATURE_MARK: Final = b"mock-signature:"
_THINKING_MARK: Final = b"mock-thinking-signature:"


def make_signature(model: str, seed: str) -> str:
    """An opaque-looking but reproducible signature, like real ones base64 encoded."""
    digest = hashlib.blake2b(f"{model}\0{seed}".encode(), digest_size=24).digest()
    return base64.b64encode(_SIGNATURE_MARK + digest).decode("ascii")


def _b64(value: str) -> bytes | None:
    """Standard or url-safe base64, padding optional (google-genai re-encodes url-safe)."""
    try:
        return base64.b64decode(
            value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True
        )
    except ValueError:
        return None


def valid_signature(value: str) -> bool:
    """Whether ``value`` is a signature this mock minted (Gemini rejects a corrupted one)."""
    raw = _b64(value)
    return raw is not None and raw.startswith((_SIGNATURE_MARK, _THINKING_MARK))


def thinking_signature(text: str) -> str:
    """The signature of an Anthropic thinking block: bound to its exact text, as Anthropic's
    are (a block whose text was changed by one byte fails :func:`signs_thinking`)."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=24).digest()
    return base64.b64encode(_THINKING_MARK + digest).decode("ascii")


def signs_thinking(signature: str, text: str) -> bool:
    return signature == thinking_signature(text)


def thinking_minted(signature: str) -> bool:
    """A thinking signature of this mock's, whatever text it was minted for."""
    raw = _b64(signature)
    return raw is not None and raw.startswith(_THINKING_MARK)


def embedding(text: str, dims: int) -> list[float]:
    """A unit vector derived from the text's hash: equal inputs, equal vectors."""
    raw = hashlib.shake_256(text.encode("utf-8", "surrogatepass")).digest(4 * dims)
    values = [(x / 0xFFFFFFFF) * 2.0 - 1.0 for x in struct.unpack(f"<{dims}I", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def embedding_base64(values: list[float]) -> str:
    """OpenAI's ``encoding_format: base64``: little-endian float32, base64 encoded."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


# --- tool arguments -----------------------------------------------------------------------

_STRING_FORMATS: Final = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_MAX_DEPTH: Final = 12


def schema_example(schema: Any) -> Any:
    """A value that satisfies a JSON schema (or a Gemini ``Schema``; types may be upper case).

    Only what a tool-calling test needs: required properties, first enum/const/anyOf choice,
    bounds on numbers, lengths and item counts, local ``$ref``s. Unsatisfiable schemas get a
    best effort rather than an error: the mock must still answer.
    """
    root = schema if isinstance(schema, dict) else {}
    return _example(schema, root, 0)


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#/"):
        return {}
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node


def _type_of(schema: Mapping[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if isinstance(x, str) and x.lower() != "null"), "null")
    if isinstance(t, str) and t:
        return t.lower()
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _example(schema: Any, root: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return "example"
    if isinstance(ref := schema.get("$ref"), str):
        return _example(_resolve(ref, root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "any_of", "one_of"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return _example((usable or options)[0], root, depth + 1)
    if isinstance(all_of := schema.get("allOf"), list) and all_of:
        merged: dict[str, Any] = {}
        for part in all_of:
            if isinstance(part, dict):
                merged |= part
        merged.pop("allOf", None)
        return _example(merged, root, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        return _object_example(schema, root, depth)
    if kind == "array":
        count = max(1, _int(schema.get("minItems", schema.get("min_items")), 1))
        if _int(schema.get("maxItems", schema.get("max_items")), 1) == 0:
            return []
        return [_example(schema.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number_example(schema, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string_example(schema)


def _object_example(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> Any:
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    required = schema.get("required")
    names = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
    return {name: _example(props.get(name, {}), root, depth + 1) for name in names}


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():  # Gemini Schema sends int64 as strings
        return int(value)
    return default


def _number_example(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    value: float = 1
    low, high = schema.get("minimum"), schema.get("maximum")
    xlow, xhigh = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(xlow, int | float) and not isinstance(xlow, bool) and value <= xlow:
        value = xlow + 1 if integer else xlow + 0.5
    if isinstance(high, int | float) and value > high:
        value = high
    if isinstance(xhigh, int | float) and not isinstance(xhigh, bool) and value >= xhigh:
        value = xhigh - 1 if integer else xhigh - 0.5
    return math.ceil(value) if integer else value


def _string_example(schema: Mapping[str, Any]) -> str:
    fmt = schema.get("format")
    text = _STRING_FORMATS.get(fmt, "example") if isinstance(fmt, str) else "example"
    min_len = _int(schema.get("minLength", schema.get("min_length")), 0)
    max_len = _int(schema.get("maxLength", schema.get("max_length")), -1)
    if len(text) < min_len:
        text += "x" * (min_len - len(text))
    if 0 <= max_len < len(text):
        text = text[:max_len]
    return text
