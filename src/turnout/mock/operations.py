"""OpenAI's other operations in the mock: legacy text completions (a body or a stream), a
moderation verdict, a generated image (a tiny valid PNG), speech (a few bytes of audio), and
uploads as multipart forms: a transcription or translation of an audio file, an edit or a
variation of images.

Shapes are the official SDK's (``Completion``, ``ModerationCreateResponse``,
``ImagesResponse``); requests are checked where OpenAI answers 400, so a client's wrong type
comes back as OpenAI's error.
"""

from __future__ import annotations

import base64
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Any, Final

import orjson

from turnout.errors import BadRequest
from turnout.mock import opstreams
from turnout.mock.content import estimate_tokens
from turnout.mock.plan import Facts, Plan, RequestError, make_plan
from turnout.protocols import form


def _png() -> bytes:
    """A 1x1 opaque PNG, built by the format's rules (signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\x20\x80\xc0")  # filter byte, then one pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG: Final = _png()
PNG_BASE64: Final = base64.b64encode(PNG).decode()
# An MPEG-1 Layer III frame header (128 kbit/s, 44.1 kHz) and silence: enough to be sniffed.
MP3: Final = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(413)
AUDIO_TYPES: Final = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
CATEGORIES: Final = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_VIOLENT: Final = ("kill", "hurt", "attack")


def _model(obj: dict[str, Any]) -> str:
    model = obj.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("you must provide a model parameter", "model")
    return model


def _prompts(raw: Any) -> list[str]:
    """``prompt``: a string, strings, a token array or token arrays (OpenAI's four forms)."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(x, str) for x in raw):
            return list(raw)
        if all(isinstance(x, int) and not isinstance(x, bool) for x in raw):
            return [f"[{len(raw)} tokens]"]
        if all(
            isinstance(x, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in x)
            for x in raw
        ):
            return [f"[{len(x)} tokens]" for x in raw]
    raise RequestError(
        "Invalid 'prompt': expected a string, an array of strings or an array of token arrays.",
        "prompt",
    )


def read_completion(obj: dict[str, Any]) -> tuple[Facts, list[str]]:
    """A legacy completion request: the facts that steer the answer, and its prompts."""
    facts = Facts(model=_model(obj), stream=obj.get("stream") is True)
    prompts = _prompts(obj.get("prompt"))
    options = obj.get("stream_options")
    facts.include_usage = isinstance(options, dict) and options.get("include_usage") is True
    tokens = obj.get("max_tokens")
    if tokens is not None:
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise RequestError("Invalid 'max_tokens': expected an integer >= 1.", "max_tokens")
        facts.max_tokens = tokens
    facts.prompt = prompts[0]
    facts.prompt_chars = sum(len(p) for p in prompts)
    return facts, prompts


def _texts(plan: Plan, prompts: list[str]) -> list[list[str]]:
    """Each prompt's answer, in pieces: the first echoes the prompt, then the plan's text."""
    out = []
    for prompt in prompts:
        pieces = list(plan.pieces) or [""]
        pieces[0] = f" You wrote: {prompt}."
        out.append(pieces)
    return out


def _usage(plan: Plan, prompts: list[str]) -> dict[str, Any]:
    completion = len(plan.pieces) * len(prompts)
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": plan.prompt_tokens + completion,
    }


def _head(plan: Plan) -> dict[str, Any]:
    return {
        "id": f"cmpl-{plan.uid}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": plan.model,
        "system_fingerprint": "fp_mock",
    }


def completion_body(plan: Plan, prompts: list[str]) -> bytes:
    finish = "length" if plan.truncated else "stop"
    choices = [
        {"index": i, "text": "".join(pieces), "logprobs": None, "finish_reason": finish}
        for i, pieces in enumerate(_texts(plan, prompts))
    ]
    body = {**_head(plan), "choices": choices, "usage": _usage(plan, prompts)}
    return orjson.dumps(body)


def completion_frames(plan: Plan, prompts: list[str], include_usage: bool) -> list[bytes]:
    """One chunk per piece of each prompt's answer, its finish, the usage chunk when asked
    for (empty ``choices``), then ``[DONE]``."""
    head = _head(plan)
    finish = "length" if plan.truncated else "stop"

    def frame(obj: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    def choice(i: int, text: str, end: str | None) -> dict[str, Any]:
        return {"index": i, "text": text, "logprobs": None, "finish_reason": end}

    frames: list[bytes] = []
    for i, pieces in enumerate(_texts(plan, prompts)):
        frames.extend(frame({**head, "choices": [choice(i, p, None)]}) for p in pieces)
        frames.append(frame({**head, "choices": [choice(i, "", finish)]}))
    if include_usage:
        frames.append(frame({**head, "choices": [], "usage": _usage(plan, prompts)}))
    frames.append(b"data: [DONE]\n\n")
    return frames


def moderation_body(obj: dict[str, Any], uid: str) -> bytes:
    """Flags text that speaks of violence; ``model`` is OpenAI's default when absent."""
    model = obj.get("model", "omni-moderation-latest")
    if not isinstance(model, str) or not model:
        raise RequestError("Invalid 'model': expected a string.", "model")
    raw = obj.get("input")
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and raw:
        inputs = [
            x if isinstance(x, str) else str(x.get("text", "")) if isinstance(x, dict) else ""
            for x in raw
        ]
    else:
        raise RequestError("Invalid 'input': expected a string or an array.", "input")
    results = []
    for text in inputs:
        violent = any(word in text.lower() for word in _VIOLENT)
        results.append(
            {
                "flagged": violent,
                "categories": {c: violent and c == "violence" for c in CATEGORIES},
                "category_scores": {
                    c: 0.91 if violent and c == "violence" else 0.0001 for c in CATEGORIES
                },
                "category_applied_input_types": {c: ["text"] for c in CATEGORIES},
            }
        )
    return orjson.dumps({"id": f"modr-{uid}", "model": model, "results": results})


def image_body(obj: dict[str, Any], image_tokens: int = 0) -> bytes:
    """``n`` tiny PNGs, as base64 (``b64_json``, and always for gpt-image models) or as a
    ``data:`` URL; usage in the gpt-image shape (``image_tokens``: an edit's input images)."""
    model = obj.get("model", "dall-e-2")
    if not isinstance(model, str) or not model:
        raise RequestError("Invalid 'model': expected a string.", "model")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise RequestError("Invalid 'prompt': expected a non-empty string.", "prompt")
    n = obj.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise RequestError("Invalid 'n': expected an integer within 1..10.", "n")
    b64 = obj.get("response_format") == "b64_json" or model.startswith("gpt-image")
    item = {"b64_json": PNG_BASE64} if b64 else {"url": "data:image/png;base64," + PNG_BASE64}
    text = estimate_tokens(len(prompt))
    tokens = text + image_tokens
    usage = {
        "input_tokens": tokens,
        "output_tokens": 16 * n,
        "total_tokens": tokens + 16 * n,
        "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text},
    }
    body = {
        "created": int(time.time()),
        "data": [{**item, "revised_prompt": prompt} for _ in range(n)],
        "usage": usage,
    }
    return orjson.dumps(body)


def speech(obj: dict[str, Any]) -> tuple[str, bytes]:
    """(content type, audio bytes) for ``/v1/audio/speech``."""
    _model(obj)
    if not isinstance(obj.get("input"), str):
        raise RequestError("Invalid 'input': expected a string.", "input")
    if not isinstance(obj.get("voice"), str | dict):
        raise RequestError("Invalid 'voice': expected a string.", "voice")
    fmt = obj.get("response_format", "mp3")
    kind = AUDIO_TYPES.get(fmt) if isinstance(fmt, str) else None
    if kind is None:
        raise RequestError(f"Invalid 'response_format': one of {', '.join(AUDIO_TYPES)}.")
    return kind, MP3


def _upload(obj: dict[str, Any]) -> tuple[dict[str, str], list[form.Part]]:
    """A form's text fields and its parts (the engine puts its body and type in ``obj``)."""
    body, kind = obj["_form"], str(obj["_type"]).encode("latin-1", "replace")
    try:
        return form.fields(body, kind), form.parts(body, form.boundary(kind))
    except BadRequest as exc:
        raise RequestError(exc.message, exc.param) from None


def _files(parts: list[form.Part], names: tuple[str, ...], most: int) -> list[form.Part]:
    found = [p for p in parts if p.file and p.name in names]
    if not 1 <= len(found) <= most:
        raise RequestError(f"you must provide 1 to {most} '{names[0]}' files", names[0])
    return found


def transcription(obj: dict[str, Any], verb: str = "Transcribed") -> tuple[str, bytes]:
    """(content type, answer) for ``/v1/audio/transcriptions`` (and, with ``verb``
    ``Translated``, ``/v1/audio/translations``): the text says how many bytes of audio
    arrived and under which name, so a test sees the file made the trip unchanged."""
    fields, parts = _upload(obj)
    model = fields.get("model")
    if not model:
        raise RequestError("you must provide a model parameter", "model")
    file = _files(parts, ("file",), 1)[0]
    size = file.end - file.start
    text = f"{verb} {size} bytes of audio for {model}."
    fmt = fields.get("response_format", "json")
    if fmt == "text":
        return "text/plain; charset=utf-8", text.encode()
    if fmt not in ("json", "verbose_json"):
        raise RequestError("Invalid 'response_format'.", "response_format")
    if verb != "Transcribed":  # whisper, the one translation model, reports no usage
        return "application/json", orjson.dumps({"text": text})
    tokens = max(1, size // 100)
    usage = {
        "type": "tokens",
        "input_tokens": tokens,
        "output_tokens": estimate_tokens(len(text)),
        "total_tokens": tokens + estimate_tokens(len(text)),
    }
    return "application/json", orjson.dumps({"text": text, "usage": usage})


def _count(fields: dict[str, str]) -> int:
    raw = fields.get("n", "1")
    if not (raw.isascii() and raw.isdigit()):
        raise RequestError("Invalid 'n': expected an integer.", "n")
    return int(raw) if len(raw) < 4 else 0  # out of range, refused by image_body


def image_edit(obj: dict[str, Any]) -> bytes:
    """Images edited from uploads (``image`` or, several, ``image[]``; an optional ``mask``):
    the revised prompt says what arrived, and the usage counts a token per 100 image bytes."""
    fields, parts = _upload(obj)
    images = _files(parts, ("image", "image[]"), 16)
    if len([p for p in parts if p.file and p.name == "mask"]) > 1:
        raise RequestError("Invalid 'mask': expected one file.", "mask")
    size = sum(p.end - p.start for p in images)
    data: dict[str, Any] = {**fields, "n": _count(fields)}
    body = orjson.loads(image_body(data, max(1, size // 100)))
    for item in body["data"]:
        item["revised_prompt"] = f"{fields.get('prompt')} ({len(images)} images, {size} bytes)"
    return orjson.dumps(body)


def image_variation(obj: dict[str, Any]) -> bytes:
    """``n`` variations of one uploaded image (dall-e-2's: no usage, no revised prompt)."""
    fields, parts = _upload(obj)
    image = _files(parts, ("image",), 1)[0]
    model = fields.get("model", "dall-e-2")
    n = _count(fields)
    if not 1 <= n <= 10:
        raise RequestError("Invalid 'n': expected an integer within 1..10.", "n")
    b64 = fields.get("response_format") == "b64_json"
    item = {"b64_json": PNG_BASE64} if b64 else {"url": "data:image/png;base64," + PNG_BASE64}
    # The upstream's own name for what it did, so a test sees the model and the file arrive.
    item["revised_prompt"] = f"A variation of {image.end - image.start} bytes by {model}"
    return orjson.dumps({"created": int(time.time()), "data": [item] * n})


# The paths the mock serves them at (each also without its ``/v1``), by action.
PATHS: Final = {
    f"{prefix}/{path}": action
    for path, action in (
        ("completions", "completions"),
        ("moderations", "moderations"),
        ("images/generations", "images"),
        ("audio/speech", "speech"),
        ("audio/transcriptions", "transcriptions"),
        ("audio/translations", "translations"),
        ("images/edits", "image_edits"),
        ("images/variations", "image_variations"),
    )
    for prefix in ("/v1", "")
}
ACTIONS: Final = frozenset(PATHS.values())
# Those whose bodies are multipart forms: the engine hands them over unparsed.
FORMS: Final = frozenset({"transcriptions", "translations", "image_edits", "image_variations"})


@dataclass(slots=True)
class Answer:
    body: bytes | None = None
    frames: list[bytes] | None = None  # a streamed completion's SSE frames
    content_type: str | None = None  # None: JSON
    streamed: bool | None = None  # a completion's x-mock-streamed


def answer(action: str, obj: dict[str, Any], tokens: int, uid: str) -> Answer:
    """The answer to one of :data:`ACTIONS` (a form's body and type under ``_form``, ``_type``),
    streamed when it asks to be (:mod:`turnout.mock.opstreams`)."""
    out = _answer(action, obj, tokens, uid)
    if out.body is not None and (frames := opstreams.restream(action, obj, out.body)):
        return Answer(frames=frames)
    return out


def _answer(action: str, obj: dict[str, Any], tokens: int, uid: str) -> Answer:
    if action == "completions":
        facts, prompts = read_completion(obj)
        plan = make_plan(facts, tokens, uid, "named")
        if facts.stream:
            frames = completion_frames(plan, prompts, facts.include_usage)
            return Answer(frames=frames, streamed=True)
        return Answer(completion_body(plan, prompts), streamed=False)
    if action == "moderations":
        return Answer(moderation_body(obj, uid))
    if action == "images":
        return Answer(image_body(obj))
    if action == "image_edits":
        return Answer(image_edit(obj))
    if action == "image_variations":
        return Answer(image_variation(obj))
    if action == "speech":
        kind, audio = speech(obj)
    else:
        kind, audio = transcription(
            obj, "Translated" if action == "translations" else "Transcribed"
        )
    return Answer(audio, content_type=kind)
