"""OpenAI's other operations through a gateway process, judged by the official ``openai`` SDK:
legacy completions (whole and streamed), moderations, image generation and speech pass through
to an OpenAI-compatible upstream (the mock provider) with the gateway's key checks, routing and
failover, request log rows and OpenAI's error shape; a model routed to an Anthropic provider
is refused with a 400 naming the operation before anything is sent."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, free_port, mock_provider, start_gateway
from tests.support.wait import until

MASTER = "sy-master-ops-test-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
TOKENS = 7
MOCK_TOKENS = {"x-mock-tokens": str(TOKENS)}
BODY_LIMIT = 300_000
AUDIO = b"ID3\x03" + bytes(range(256)) * 40  # 10 KB of "audio", every byte value


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    config: dict[str, Any] = {
        "providers": {
            "oa": mock_provider(mock),
            "dead": {"type": "openai-compatible", "base_url": dead, "api_keys": ["sk-dead-0001"]},
            "an": {"type": "anthropic", "base_url": mock.url, "api_keys": ["sk-up"]},
            "demo": {"type": "mock"},  # the in-process mock of `serve --demo`
        },
        "models": {
            # Failover: the first deployment refuses connections, the second answers.
            "base-model": {
                "deployments": [
                    {"provider": "dead", "model": "base-up", "priority": 0},
                    {"provider": "oa", "model": "base-up", "priority": 1},
                ]
            },
            "omni-moderation-latest": {"deployments": [{"provider": "oa", "model": "mod-up"}]},
            "gpt-image-test": {"deployments": [{"provider": "oa", "model": "gpt-image-up"}]},
            "tts-test": {"deployments": [{"provider": "oa", "model": "tts-up"}]},
            "whisper-test": {"deployments": [{"provider": "oa", "model": "whisper-up"}]},
            "claude-test": {"deployments": [{"provider": "an", "model": "claude-up"}]},
            "inproc-*": {"deployments": [{"provider": "demo"}]},
            # Chat goes to Anthropic first (translated); the other operations cannot.
            "mixed": {
                "deployments": [
                    {"provider": "an", "model": "claude-up", "priority": 0},
                    {"provider": "oa", "model": "base-up", "priority": 1},
                ]
            },
        },
        "routing": {"backoff": {"base": 0, "max": 0}},
        "server": {"max_body_bytes": BODY_LIMIT},
        "storage": {"flush_interval": 0.05},
    }
    tmp = tmp_path_factory.mktemp("operations")
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()


def client(gw: Proc, key: str = MASTER) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{gw.url}/v1", max_retries=0)


def row(gw: Proc, rid: str) -> dict[str, Any]:
    """The request log row of ``rid``, once the log has written it."""

    def rows() -> list[dict[str, Any]]:
        got = httpx.get(gw.url + "/admin/logs", params={"request_id": rid}, headers=ADMIN)
        found: list[dict[str, Any]] = got.json()["rows"]
        return found

    until(lambda: len(rows()) == 1)
    return rows()[0]


def new_key(gw: Proc, **body: Any) -> str:
    resp = httpx.post(gw.url + "/admin/keys", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


def test_a_completion_is_relayed_with_its_usage_and_fails_over(gw: Proc) -> None:
    raw = client(gw).completions.with_raw_response.create(
        model="base-model", prompt="hello gateway", max_tokens=50, extra_headers=MOCK_TOKENS
    )
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert "You wrote: hello gateway." in completion.choices[0].text
    assert completion.model == "base-up"  # renamed upstream, the answer as the upstream wrote it
    assert raw.headers["x-turnout-deployment"] == "oa/base-up"
    assert int(raw.headers["x-turnout-attempts"]) == 2  # the dead deployment first
    logged = row(gw, raw.headers["x-request-id"])
    assert logged["operation"] == "completions" and logged["status"] == 200
    assert logged["model"] == "base-model" and logged["protocol"] == "openai"
    assert logged["output_tokens"] == TOKENS and logged["input_tokens"] > 0


@pytest.mark.parametrize("ask", [False, True], ids=["gateway-asks", "client-asks"])
def test_a_completion_stream_is_relayed_and_its_usage_counted(gw: Proc, ask: bool) -> None:
    options: Any = {"include_usage": True} if ask else openai.NOT_GIVEN
    with client(gw).completions.with_streaming_response.create(
        model="base-model",
        prompt="stream me",
        stream=True,
        stream_options=options,
        extra_headers=MOCK_TOKENS,
    ) as resp:
        rid = resp.headers["x-request-id"]
        assert resp.headers["content-type"].startswith("text/event-stream")
        chunks = list(resp.parse())
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text.startswith(" You wrote: stream me.")
    usage = [c.usage for c in chunks if c.usage is not None]
    if ask:
        assert len(usage) == 1 and usage[0].completion_tokens == TOKENS
    else:
        assert usage == []  # asked upstream for the log, hidden from this client
    logged = row(gw, rid)
    assert logged["operation"] == "completions" and logged["stream"] is True
    assert logged["output_tokens"] == TOKENS and logged["input_tokens"] > 0


def test_a_moderation_without_a_model_goes_to_openais_default(gw: Proc) -> None:
    raw = client(gw).moderations.with_raw_response.create(input="I will kill the process")
    result = raw.parse()
    assert result.results[0].flagged and result.results[0].categories.violence
    assert result.model == "mod-up"  # the upstream was told the model it serves
    logged = row(gw, raw.headers["x-request-id"])
    assert logged["operation"] == "moderations" and logged["model"] == "omni-moderation-latest"
    assert logged["status"] == 200


def test_an_image_is_generated_with_its_usage(gw: Proc) -> None:
    raw = client(gw).images.with_raw_response.generate(model="gpt-image-test", prompt="a cat")
    image = raw.parse()
    assert image.data is not None and image.data[0].b64_json is not None
    assert base64.b64decode(image.data[0].b64_json).startswith(b"\x89PNG\r\n\x1a\n")
    logged = row(gw, raw.headers["x-request-id"])
    assert logged["operation"] == "images" and logged["status"] == 200
    assert logged["input_tokens"] > 0 and logged["output_tokens"] == 16


def test_speech_is_relayed_as_audio_bytes(gw: Proc) -> None:
    raw = client(gw).audio.speech.with_raw_response.create(
        model="tts-test", voice="alloy", input="hello there"
    )
    assert raw.headers["content-type"] == "audio/mpeg"
    audio = raw.parse().content
    assert audio.startswith(b"ID3") and len(audio) > 100
    logged = row(gw, raw.headers["x-request-id"])
    assert logged["operation"] == "speech" and logged["status"] == 200
    assert logged["input_tokens"] is None and logged["output_tokens"] is None  # no usage


def _each_operation(oa: openai.OpenAI, model: Any) -> dict[str, Any]:
    """Call every operation with ``model``, returning what each raised (None: nothing)."""
    calls: dict[str, Callable[[], object]] = {
        "completions": lambda: oa.completions.create(model=model, prompt="hi"),
        "moderations": lambda: oa.moderations.create(input="hi", model=model),
        "images": lambda: oa.images.generate(prompt="a cat", model=model),
        "speech": lambda: oa.audio.speech.create(model=model, voice="alloy", input="hi"),
        "transcriptions": lambda: oa.audio.transcriptions.create(
            model=model, file=("a.mp3", AUDIO, "audio/mpeg")
        ),
    }
    raised: dict[str, Any] = {}
    for name, call in calls.items():
        try:
            call()
        except openai.APIStatusError as exc:
            raised[name] = exc
        else:
            raised[name] = None
    return raised


def test_a_key_not_allowed_the_model_is_refused(gw: Proc) -> None:
    key = new_key(gw, models=["base-model"])
    oa = client(gw, key)
    assert oa.completions.create(model="base-model", prompt="hi").choices
    for name, exc in _each_operation(oa, "tts-test").items():
        assert isinstance(exc, openai.PermissionDeniedError), name
    # A moderation without a model asks for OpenAI's default, which this key may not use.
    with pytest.raises(openai.PermissionDeniedError):
        oa.moderations.create(input="hi")


def test_a_model_on_an_anthropic_provider_is_refused_before_sending(gw: Proc, mock: Proc) -> None:
    before = httpx.get(mock.url + "/_mock/stats").json()["requests"]
    for name, exc in _each_operation(client(gw), "claude-test").items():
        assert isinstance(exc, openai.BadRequestError), name
        error = exc.body
        assert isinstance(error, dict) and error["type"] == "invalid_request_error"
        assert f"does not serve '{name}' requests" in error["message"], error
        assert "'an' (anthropic)" in error["message"]
    assert httpx.get(mock.url + "/_mock/stats").json()["requests"] == before


@pytest.mark.parametrize("model", [5, ["base-model"], {"name": "base-model"}, "", True])
def test_a_wrong_typed_model_is_a_400(gw: Proc, model: Any) -> None:
    for name, exc in _each_operation(client(gw), model).items():
        if name == "transcriptions" and model != "":
            # A form field is text: 5 arrives as "5", an unknown model (404).
            assert isinstance(exc, openai.NotFoundError | openai.BadRequestError), (name, exc)
            continue
        assert isinstance(exc, openai.BadRequestError), (name, exc)
        assert exc.body["param"] == "model", (name, exc.body)  # type: ignore[index]


@pytest.mark.parametrize("prompt", [5, {"text": "hi"}, [1.5], None, [["a"]]])
def test_a_wrong_typed_prompt_is_a_400(gw: Proc, prompt: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(gw).completions.create(model="base-model", prompt=prompt)
    assert caught.value.body["param"] == "prompt"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client(gw).images.generate(model="gpt-image-test", prompt=prompt)


def test_the_in_process_mock_answers_every_operation(gw: Proc) -> None:
    """``serve --demo``'s provider: the same answers, without a network hop."""
    oa = client(gw)
    text = oa.completions.create(model="inproc-base", prompt="demo").choices[0].text
    assert "You wrote: demo." in text
    stream = oa.completions.create(model="inproc-base", prompt="demo", stream=True)
    assert "".join(c.choices[0].text for c in stream if c.choices).startswith(" You wrote: demo.")
    assert oa.moderations.create(model="inproc-mod", input="hi").results[0].flagged is False
    image = oa.images.generate(model="inproc-image", prompt="a cat", response_format="b64_json")
    assert image.data is not None and image.data[0].b64_json
    raw = oa.audio.speech.with_raw_response.create(model="inproc-tts", voice="alloy", input="hi")
    assert raw.headers["content-type"] == "audio/mpeg"
    assert raw.parse().content.startswith(b"ID3")
    heard = oa.audio.transcriptions.create(model="inproc-whisper", file=("a.mp3", AUDIO))
    assert heard.text == f"Transcribed {len(AUDIO)} bytes of audio for inproc-whisper."


def test_a_transcription_forwards_the_form_unchanged_but_for_the_model(gw: Proc) -> None:
    raw = client(gw).audio.transcriptions.with_raw_response.create(
        model="whisper-test", file=("speech.mp3", AUDIO, "audio/mpeg"), language="en"
    )
    # The mock counts the file part's bytes and names the model it was sent: renamed in place.
    assert raw.parse().text == f"Transcribed {len(AUDIO)} bytes of audio for whisper-up."
    logged = row(gw, raw.headers["x-request-id"])
    assert logged["operation"] == "transcriptions" and logged["status"] == 200
    assert logged["input_tokens"] == len(AUDIO) // 100 and logged["output_tokens"] > 0
    text = client(gw).audio.transcriptions.create(
        model="whisper-test", file=("speech.mp3", AUDIO), response_format="text"
    )
    assert text.startswith("Transcribed ")


def test_a_transcription_over_the_body_limit_is_refused(gw: Proc) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(gw).audio.transcriptions.create(
            model="whisper-test", file=("big.mp3", bytes(BODY_LIMIT + 1))
        )
    assert caught.value.status_code == 413


def _form(*fields: tuple[str, str]) -> bytes:
    parts = [
        f'--b0\r\ncontent-disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    ]
    audio = b'--b0\r\ncontent-disposition: form-data; name="file"; filename="a.mp3"\r\n\r\n'
    return b"".join(parts) + audio + AUDIO + b"\r\n--b0--\r\n"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # Which model would the upstream take? The gateway checked one of them.
        ("multipart/form-data; boundary=b0", _form(("model", "whisper-test"), ("model", "x"))),
        ("multipart/form-data; boundary=b0; boundary=b1", _form(("model", "whisper-test"))),
        ("multipart/form-data; boundary=b0", _form(("name", "x"))),  # no model
        ("multipart/form-data; boundary=zz", _form(("model", "whisper-test"))),
        ("multipart/form-data; boundary=b0", _form(("model", "whisper-test"))[:-12]),  # cut
        ("application/json", b'{"model": "whisper-test"}'),
        ("multipart/form-data; boundary=b0", b"--b0\r\n" + b"x" * 10_000),  # endless head
    ],
    ids=["model-twice", "two-boundaries", "no-model", "wrong-boundary", "cut", "json", "head"],
)
def test_a_form_the_gateway_cannot_read_unambiguously_is_a_400(
    gw: Proc, content_type: str, body: bytes
) -> None:
    headers = {**ADMIN, "content-type": content_type}
    resp = httpx.post(gw.url + "/v1/audio/transcriptions", content=body, headers=headers)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_a_deployment_that_cannot_serve_the_operation_is_passed_over(gw: Proc, mock: Proc) -> None:
    """A model whose first deployment is Anthropic: chat is translated there, a completion
    goes to the next deployment that serves it, nothing sent to the first."""
    oa = client(gw)
    chat = oa.chat.completions.with_raw_response.create(
        model="mixed", messages=[{"role": "user", "content": "hi"}]
    )
    assert chat.headers["x-turnout-deployment"] == "an/claude-up"
    before = httpx.get(mock.url + "/_mock/stats").json()["by_path"].get("/v1/messages", 0)
    raw = oa.completions.with_raw_response.create(model="mixed", prompt="hi")
    assert raw.headers["x-turnout-deployment"] == "oa/base-up"
    assert raw.headers["x-turnout-attempts"] == "1"  # the one that was sent
    assert "You wrote: hi." in raw.parse().choices[0].text
    after = httpx.get(mock.url + "/_mock/stats").json()["by_path"].get("/v1/messages", 0)
    assert after == before
    logged = row(gw, raw.headers["x-request-id"])
    assert logged["status"] == 200 and logged["attempts"] == 1
