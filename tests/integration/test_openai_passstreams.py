"""Streams of OpenAI's passed-through operations through a gateway process, judged by the
official ``openai`` SDK: gpt-image's ``stream`` (generations and edits, partial images), a
transcription's ``stream``, and speech (audio bytes, or ``stream_format: "sse"`` events).

Each must reach its client as the upstream sends it (an upstream that holds the rest of its
answer open until the client has seen the first event), its usage read from its last event
into the request log and the key's budget, and a client leaving must close the upstream. The
mock provider streams them when asked; the scripted upstream (tests/support/scripted.py) sends
what no well-behaved provider would, chosen per request through ``x-scripted-answer``."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import (
    Proc,
    mock_provider,
    scripted_requests,
    start_gateway,
    start_scripted,
)
from tests.support.wait import until
from turnout.mock.operations import PNG

MASTER = "sy-master-passstreams-test-key-0123"
ADMIN = {"authorization": f"Bearer {MASTER}"}
PRICE = {"input": 1.0, "output": 2.0}  # USD per million tokens
AUDIO = b"ID3\x03" + bytes(range(256)) * 20
USAGE = {"input_tokens": 7, "output_tokens": 40, "total_tokens": 47}


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_scripted({}, tmp_path_factory.mktemp("scripted"))
    yield proc
    proc.stop()


def _config(mock: Proc, scripted: Proc, **extra: Any) -> dict[str, Any]:
    sc = {
        "type": "openai-compatible",
        "base_url": scripted.url + "/v1",
        "api_keys": ["sk-scripted"],
        "forward_headers": ["x-scripted-*"],
    }
    return {
        "providers": {
            "oa": mock_provider(mock),
            "sc": sc,
            "still": {**sc, "streaming_mode": "disabled"},
            "demo": {"type": "mock"},  # the in-process mock of `serve --demo`
        },
        "models": {
            "gpt-image-test": {"deployments": [{"provider": "oa", "model": "gpt-image-1"}]},
            "transcribe-test": {"deployments": [{"provider": "oa", "model": "gpt-4o-transcribe"}]},
            "tts-test": {"deployments": [{"provider": "oa", "model": "gpt-4o-mini-tts"}]},
            "held-*": {"deployments": [{"provider": "sc"}]},
            "still-*": {"deployments": [{"provider": "still"}]},
            "inproc-*": {"deployments": [{"provider": "demo", "model": "gpt-image-1"}]},
        },
        "pricing": {"models": {m: PRICE for m in ("gpt-image-test", "transcribe-test", "held-x")}},
        "storage": {"flush_interval": 0.05},
        **extra,
    }


@pytest.fixture(scope="module")
def gw(mock: Proc, scripted: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(
        _config(mock, scripted),
        tmp_path_factory.mktemp("passstreams"),
        env={"TURNOUT_MASTER_KEY": MASTER},
    )
    yield proc
    proc.stop()


def client(gw: Proc, key: str = MASTER, timeout: float = 30.0) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{gw.url}/v1", max_retries=0, timeout=timeout)


def row(gw: Proc, rid: str) -> dict[str, Any]:
    def rows() -> list[dict[str, Any]]:
        got = httpx.get(gw.url + "/admin/logs", params={"request_id": rid}, headers=ADMIN)
        found: list[dict[str, Any]] = got.json()["rows"]
        return found

    until(lambda: len(rows()) == 1)
    return rows()[0]


def event(obj: dict[str, Any]) -> str:
    return f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n"


def answer(chunks: list[str], kind: str = "text/event-stream", **more: Any) -> dict[str, str]:
    """Headers making the scripted upstream send ``chunks`` (then ``more``: hold, repeat)."""
    script = {"type": kind, "chunks": chunks, **more}
    return {"x-scripted-answer": base64.b64encode(json.dumps(script).encode()).decode()}


def closed_upstreams(scripted: Proc, path: str) -> int:
    return sum(1 for r in scripted_requests(scripted) if r["path"] == path and r["closed"])


B64 = base64.b64encode(PNG).decode()
IMAGE_COMMON = {
    "b64_json": B64,
    "background": "opaque",
    "created_at": 1,
    "output_format": "png",
    "quality": "low",
    "size": "1024x1024",
}


def partial(kind: str = "image_generation", index: int = 0) -> dict[str, Any]:
    return {**IMAGE_COMMON, "type": f"{kind}.partial_image", "partial_image_index": index}


# -- usage from the last event, in the log and the budget --------------------------------------
def test_an_image_stream_with_partial_images_is_logged_with_its_usage(gw: Proc) -> None:
    with client(gw).images.with_streaming_response.generate(
        model="gpt-image-test", prompt="a cat", stream=True, partial_images=2
    ) as resp:
        rid = resp.headers["x-request-id"]
        events = list(resp.parse())
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    done = events[-1]
    assert done.type == "image_generation.completed" and done.b64_json == B64
    logged = row(gw, rid)
    assert logged["operation"] == "images" and logged["status"] == 200
    assert (logged["input_tokens"], logged["output_tokens"]) == (
        done.usage.input_tokens,
        done.usage.output_tokens,
    )
    expected = (done.usage.input_tokens * PRICE["input"] + 16 * PRICE["output"]) / 1e6
    assert logged["cost"] == pytest.approx(expected)


def test_an_image_edit_stream_settles_the_key_budget_once(gw: Proc) -> None:
    made = httpx.post(
        gw.url + "/admin/keys", json={"budget": 1.0, "budget_period": "day"}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    with client(gw, made.json()["key"]).images.with_streaming_response.edit(
        model="gpt-image-test",
        image=("in.png", PNG, "image/png"),
        prompt="add a hat",
        stream=True,
        partial_images=1,
    ) as resp:
        rid = resp.headers["x-request-id"]
        events = list(resp.parse())
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    logged = row(gw, rid)
    assert logged["operation"] == "image_edits" and logged["output_tokens"] == 16
    assert logged["cost"] > 0

    def spent() -> float:
        shown = httpx.get(f"{gw.url}/admin/keys/{made.json()['id']}", headers=ADMIN).json()
        return float(shown["spend"]["spent"])

    until(lambda: spent() > 0)
    assert spent() == pytest.approx(logged["cost"], abs=1e-6)  # counted once, not twice


def test_a_transcription_stream_is_logged_with_its_usage(gw: Proc) -> None:
    with client(gw).audio.transcriptions.with_streaming_response.create(
        model="transcribe-test", file=("talk.mp3", AUDIO, "audio/mpeg"), stream=True
    ) as resp:
        rid = resp.headers["x-request-id"]
        events = list(resp.parse())
    assert {e.type for e in events[:-1]} == {"transcript.text.delta"}
    done = events[-1]
    assert done.type == "transcript.text.done"
    assert done.text == f"Transcribed {len(AUDIO)} bytes of audio for gpt-4o-transcribe."
    assert "".join(e.delta for e in events[:-1] if e.type == "transcript.text.delta") == done.text
    assert done.usage is not None and done.usage.type == "tokens"
    logged = row(gw, rid)
    assert logged["operation"] == "transcriptions" and logged["status"] == 200
    assert logged["input_tokens"] == done.usage.input_tokens
    assert logged["output_tokens"] == done.usage.output_tokens


def test_speech_events_are_logged_with_their_usage(gw: Proc) -> None:
    with client(gw).audio.speech.with_streaming_response.create(
        model="tts-test", voice="alloy", input="Hello there, world.", stream_format="sse"
    ) as resp:
        rid = resp.headers["x-request-id"]
        assert resp.headers["content-type"].startswith("text/event-stream")
        frames = [json.loads(line[5:]) for line in resp.iter_lines() if line.startswith("data:")]
    assert frames[-1]["type"] == "speech.audio.done"
    audio = b"".join(base64.b64decode(f["audio"]) for f in frames[:-1])
    assert audio.startswith(b"ID3")
    usage = frames[-1]["usage"]
    logged = row(gw, rid)
    assert logged["operation"] == "speech" and logged["status"] == 200
    assert (logged["input_tokens"], logged["output_tokens"]) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )


def test_the_in_process_mock_streams_images_too(gw: Proc) -> None:
    stream = client(gw).images.generate(
        model="inproc-image", prompt="x", stream=True, partial_images=1
    )
    kinds = [e.type for e in stream]
    assert kinds == ["image_generation.partial_image", "image_generation.completed"]


# -- relayed as it comes; a client leaving closes the upstream ---------------------------------
# Each upstream sends its first event and holds the rest until the gateway closes the
# connection: the client sees that event only if it is relayed as it came.
HELD = {
    "images": lambda oa, h: oa.images.generate(
        model="held-image", prompt="x", stream=True, partial_images=1, extra_headers=h
    ),
    "image_edits": lambda oa, h: oa.images.edit(
        model="held-image", image=("a.png", PNG), prompt="x", stream=True, extra_headers=h
    ),
    "transcriptions": lambda oa, h: oa.audio.transcriptions.create(
        model="held-transcribe", file=("a.mp3", AUDIO), stream=True, extra_headers=h
    ),
}
FIRST = {
    "images": partial(),
    "image_edits": partial("image_edit"),
    "transcriptions": {"type": "transcript.text.delta", "delta": "Hello"},
}
PATHS = {
    "images": "/v1/images/generations",
    "image_edits": "/v1/images/edits",
    "transcriptions": "/v1/audio/transcriptions",
}


@pytest.mark.parametrize("operation", list(HELD))
def test_the_first_event_arrives_before_the_upstream_ends_and_leaving_closes_it(
    gw: Proc, scripted: Proc, operation: str
) -> None:
    before = closed_upstreams(scripted, PATHS[operation])
    stream = HELD[operation](client(gw, timeout=20), answer([event(FIRST[operation])], hold=True))
    first = next(iter(stream))
    assert first.type == FIRST[operation]["type"]
    stream.close()  # the client leaves mid-stream
    until(lambda: closed_upstreams(scripted, PATHS[operation]) == before + 1)
    logged = row(gw, stream.response.headers["x-request-id"])
    assert logged["status"] == 499
    if operation != "transcriptions":  # a partial image's base64 is no measure of tokens
        assert logged["output_tokens"] == 0


def test_speech_audio_arrives_before_the_upstream_ends_and_leaving_closes_it(
    gw: Proc, scripted: Proc
) -> None:
    before = closed_upstreams(scripted, "/v1/audio/speech")
    more = {"chunk": "U" * 4096, "times": 64}  # 256 KiB of audio, then held
    head = answer([AUDIO.decode("latin-1")], "audio/mpeg", hold=True, repeat=more)
    with client(gw, timeout=20).audio.speech.with_streaming_response.create(
        model="held-tts", voice="alloy", input="x", extra_headers=head
    ) as resp:
        assert resp.headers["content-type"] == "audio/mpeg"
        got = next(resp.iter_bytes())
        sent = AUDIO.decode("latin-1").encode() + b"U" * 4096 * 64
        assert got and sent.startswith(got)
        rid = resp.headers["x-request-id"]
    until(lambda: closed_upstreams(scripted, "/v1/audio/speech") == before + 1)
    logged = row(gw, rid)
    # Cut short, it counts its prompt: audio bytes are no measure of output tokens.
    assert logged["status"] == 499 and logged["output_tokens"] == 0


def test_speech_from_a_provider_that_does_not_stream_is_still_served(gw: Proc) -> None:
    """``streaming_mode: disabled`` refuses the streams it cannot replay; audio bytes are no
    stream the upstream is asked for, so speech is served there as before."""
    head = answer([AUDIO.decode("latin-1")], "audio/mpeg")
    audio = client(gw).audio.speech.create(
        model="still-tts", voice="alloy", input="x", extra_headers=head
    )
    assert audio.content == AUDIO.decode("latin-1").encode()


# -- hostile events ----------------------------------------------------------------------------
HOSTILE_USAGE: dict[str, Any] = {
    "strings": {"input_tokens": "many", "output_tokens": "lots", "total_tokens": "x"},
    "nested": {"input_tokens": [1], "output_tokens": {"n": 2}, "total_tokens": None},
    "negative": {"input_tokens": -5, "output_tokens": 1e300, "total_tokens": True},
    "not-an-object": "usage",
    "null": None,
}


@pytest.mark.parametrize("case", list(HOSTILE_USAGE))
def test_usage_of_the_wrong_types_is_never_a_failure(gw: Proc, case: str) -> None:
    done = {**IMAGE_COMMON, "type": "image_generation.completed", "usage": HOSTILE_USAGE[case]}
    resp = httpx.post(
        gw.url + "/v1/images/generations",
        json={"model": "held-x", "prompt": "x", "stream": True},
        headers={**ADMIN, **answer([event(partial()), event(done)])},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.text == event(partial()) + event(done)  # relayed as it came
    logged = row(gw, resp.headers["x-request-id"])
    assert logged["status"] == 200 and logged["error"] is None
    assert logged["input_tokens"] in (None, 0) and logged["output_tokens"] in (None, 0)


def test_usage_after_megabytes_of_image_in_one_line_is_read(gw: Proc) -> None:
    """The finished image's base64 comes before its usage, in the same line: the line is
    relayed as it comes, and only the usage object is kept to read."""
    piece, times = "A" * 4096, 768  # 3 MiB of base64 (of zero bytes), in one line
    done = {**IMAGE_COMMON, "type": "image_generation.completed", "usage": USAGE}
    text = event({**done, "b64_json": "<cut>"})
    start, end = text.split("<cut>")
    script = answer([start], repeat={"chunk": piece, "times": times}, after=[end])
    with client(gw).images.with_streaming_response.generate(
        model="held-x", prompt="x", stream=True, extra_headers=script
    ) as resp:
        rid = resp.headers["x-request-id"]
        events = list(resp.parse())
    assert len(events) == 1 and events[0].b64_json == piece * times
    logged = row(gw, rid)
    assert (logged["input_tokens"], logged["output_tokens"]) == (7, 40)


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_a_form_stream_flag_that_is_not_true_or_false_is_a_400(gw: Proc, value: str) -> None:
    files = {"file": ("a.mp3", AUDIO, "audio/mpeg")}
    resp = httpx.post(
        gw.url + "/v1/audio/transcriptions",
        data={"model": "transcribe-test", "stream": value},
        files=files,
        headers=ADMIN,
        timeout=30,
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == "stream"


# -- memory bounded whatever the answer's size -------------------------------------------------
def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+)", status)
    assert found is not None
    return int(found.group(1)) / 1024


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+)", status)
    assert found is not None
    return int(found.group(1)) / 1024


def test_a_200_mb_speech_answer_is_relayed_without_being_held(
    mock: Proc, scripted: Proc, tmp_path: Path
) -> None:
    """A gateway of its own, so that its peak memory is this answer's alone."""
    gateway = start_gateway(_config(mock, scripted), tmp_path, env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        piece = "U" * 16384
        times = 12800  # 200 MiB
        head = answer([], "audio/mpeg", repeat={"chunk": piece, "times": times})
        client(gateway).models.list()  # warm: the first request's imports are not the answer's
        before = _rss_mb(gateway.popen.pid)
        size = 0
        with client(gateway, timeout=120).audio.speech.with_streaming_response.create(
            model="held-tts", voice="alloy", input="x", extra_headers=head
        ) as resp:
            assert resp.status_code == 200
            for chunk in resp.iter_bytes(1 << 20):
                size += len(chunk)
        assert size == len(piece) * times
        assert _peak_rss_mb(gateway.popen.pid) - before < 64  # never the 200 MiB whole
    finally:
        gateway.stop()
