"""Streams of OpenAI's other operations, as the mock provider sends them when asked.

gpt-image's ``stream`` (``partial_images`` partial images, then the finished one with its
usage), a gpt-4o transcription's ``stream`` (text deltas, then the whole text with its usage)
and gpt-4o-mini-tts's ``stream_format: "sse"`` (base64 audio deltas, then the usage): each an
SSE stream with no ``[DONE]``, its events named by their ``type`` (the SDK's types).
"""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson

from turnout.protocols import form


def _event(obj: dict[str, Any]) -> bytes:
    return b"event: %b\ndata: %b\n\n" % (str(obj["type"]).encode(), orjson.dumps(obj))


def _count(raw: Any) -> int:
    """``partial_images`` as sent (JSON, or a form's text): 0 to 3, anything else 0."""
    value = int(raw) if isinstance(raw, str) and raw in ("0", "1", "2", "3") else raw
    return value if type(value) is int and 0 <= value <= 3 else 0


def image_frames(body: bytes, partials: Any, kind: str = "image_generation") -> list[bytes]:
    """The events of an image answer (``kind``: ``image_edit`` for an edit): one partial
    image per ``partial_images``, then each finished image, the last carrying the usage."""
    answer = orjson.loads(body)
    common = {
        "background": "opaque",
        "created_at": int(time.time()),
        "output_format": "png",
        "quality": "low",
        "size": "1024x1024",
    }
    images = answer["data"]
    frames = [
        _event(
            {
                **common,
                "type": f"{kind}.partial_image",
                "b64_json": images[0]["b64_json"],
                "partial_image_index": i,
            }
        )
        for i in range(_count(partials))
    ]
    for image in images:
        done = {**common, "type": f"{kind}.completed", "b64_json": image["b64_json"]}
        frames.append(_event({**done, "usage": answer["usage"]}))
    return frames


def transcript_frames(body: bytes) -> list[bytes]:
    """A transcription's text a word per delta, then the whole of it and its usage."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:  # response_format "text": the text alone
        answer = {"text": body.decode()}
    text: str = answer["text"]
    words = text.split(" ")
    frames = [
        _event({"type": "transcript.text.delta", "delta": w if i == 0 else " " + w})
        for i, w in enumerate(words)
    ]
    frames.append(_event({"type": "transcript.text.done", "text": text, **_usage(answer)}))
    return frames


def _usage(answer: dict[str, Any]) -> dict[str, Any]:
    return {"usage": answer["usage"]} if "usage" in answer else {}


def speech_frames(audio: bytes, text: str) -> list[bytes]:
    """Audio in deltas of at most 4 KiB (base64), then the usage: a token per four
    characters of input, one output token per 100 bytes of audio."""
    frames = [
        _event(
            {"type": "speech.audio.delta", "audio": base64.b64encode(audio[i : i + 4096]).decode()}
        )
        for i in range(0, len(audio), 4096)
    ]
    tokens = max(1, len(text) // 4)
    out = max(1, len(audio) // 100)
    usage = {"input_tokens": tokens, "output_tokens": out, "total_tokens": tokens + out}
    frames.append(_event({"type": "speech.audio.done", "usage": usage}))
    return frames


def restream(action: str, obj: dict[str, Any], body: bytes) -> list[bytes] | None:
    """The frames of an answer whose request asked for a stream (``body``: the answer it
    would have had whole), or None when it did not."""
    if action == "images":
        if obj.get("stream") is True:
            return image_frames(body, obj.get("partial_images"))
        return None
    if action == "speech":
        return speech_frames(body, str(obj["input"])) if obj.get("stream_format") == "sse" else None
    if action not in ("image_edits", "transcriptions"):
        return None
    kind = str(obj["_type"]).encode("latin-1", "replace")
    fields = form.fields(obj["_form"], kind)  # read before, by the answer itself
    if fields.get("stream") != "true":
        return None
    if action == "transcriptions":
        return transcript_frames(body)
    return image_frames(body, fields.get("partial_images"), "image_edit")
