"""Usage of OpenAI's passed-through streams (protocols/openai/events.py), read from the bytes
as they are relayed: wherever the reads cut them, whatever the upstream puts in them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.unit.providers.fakes import call
from turnout.protocols.openai import events
from turnout.types import Usage

DONE = {
    "type": "image_generation.completed",
    "b64_json": "A" * 20_000,
    "usage": {"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172},
}


def frame(obj: dict[str, Any]) -> bytes:
    return b"event: %b\ndata: %b\n\n" % (obj["type"].encode(), orjson.dumps(obj))


@pytest.mark.parametrize("size", [1, 7, 100, 4096])
def test_the_last_events_usage_is_read_wherever_reads_cut(size: int) -> None:
    partial = {"type": "image_generation.partial_image", "b64_json": "B" * 5000}
    data = frame(partial) + frame(DONE)
    observer = events.image_observer(call("openai", {}, operation="images"), False)
    relayed = b"".join(observer.feed(data[i : i + size]) for i in range(0, len(data), size))
    assert relayed == data  # nothing held back, nothing changed
    assert observer.usage() == Usage(12, 4160)


def test_a_transcriptions_duration_usage_counts_no_tokens() -> None:
    done = {
        "type": "transcript.text.done",
        "text": "hi",
        "usage": {"type": "duration", "seconds": 3},
    }
    observer = events.transcript_observer(call("openai", {}, operation="transcriptions"), False)
    observer.feed(frame(done))
    assert observer.usage() is None


def test_audio_bytes_are_not_searched_for_usage() -> None:
    """Raw audio carries no usage: bytes in it that look like one are audio, not tokens."""
    audio = b'ID3\x03"usage":{"input_tokens":999999,"output_tokens":999999}'
    observer = events.speech_observer(call("openai", {"model": "m"}, operation="speech"), False)
    assert observer.feed(audio) == audio
    assert observer.usage() is None
    sse = call("openai", {"model": "m", "stream_format": "sse"}, operation="speech")
    observer = events.speech_observer(sse, False)
    usage = {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12}
    observer.feed(frame({"type": "speech.audio.done", "usage": usage}))
    assert observer.usage() == Usage(3, 9)
