"""OpenAI's other uploads through a gateway process, judged by the official ``openai`` SDK:
audio translations, image edits (one or several images, a mask) and image variations are
multipart forms routed by their ``model`` field to an OpenAI-compatible upstream (the mock
provider, out of process and in process), with the gateway's key checks, budgets, request log
rows and OpenAI's error shape, the file bytes forwarded unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until
from turnout.mock.operations import PNG

MASTER = "sy-master-uploads-test-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
BODY_LIMIT = 300_000
AUDIO = b"ID3\x03" + bytes(range(256)) * 40  # 10 KB of "audio", every byte value
IMAGE = PNG + bytes(range(256)) * 8  # a PNG and trailing bytes of every value
MASK = PNG
PRICE = {"input": 1.0, "output": 2.0}  # USD per million tokens
# The SDK marks translations and variations deprecated (whisper-1 and dall-e-2 are retiring);
# clients still send them, and the gateway serves them.
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config: dict[str, Any] = {
        "providers": {
            "oa": mock_provider(mock),
            "an": {"type": "anthropic", "base_url": mock.url, "api_keys": ["sk-up"]},
            "demo": {"type": "mock"},  # the in-process mock of `serve --demo`
        },
        "models": {
            "whisper-test": {"deployments": [{"provider": "oa", "model": "whisper-up"}]},
            "gpt-image-test": {"deployments": [{"provider": "oa", "model": "gpt-image-up"}]},
            # OpenAI's default for an edit or a variation naming no model.
            "dall-e-2": {"deployments": [{"provider": "oa", "model": "gpt-image-default-up"}]},
            "claude-test": {"deployments": [{"provider": "an", "model": "claude-up"}]},
            "inproc-*": {"deployments": [{"provider": "demo"}]},
            "wild-*": {"deployments": [{"provider": "oa"}]},  # the client's name, upstream
        },
        "pricing": {"models": {"gpt-image-test": PRICE}},
        "server": {"max_body_bytes": BODY_LIMIT},
        "storage": {"flush_interval": 0.05},
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("uploads"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
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


def test_a_translation_forwards_the_form_unchanged_but_for_the_model(gw: Proc) -> None:
    raw = client(gw).audio.translations.with_raw_response.create(
        model="whisper-test", file=("speech.mp3", AUDIO, "audio/mpeg"), prompt="a talk"
    )
    # The mock counts the file part's bytes and names the model it was sent: renamed in place.
    assert raw.parse().text == f"Translated {len(AUDIO)} bytes of audio for whisper-up."
    logged = row(gw, raw.headers["x-request-id"])
    assert logged["operation"] == "translations" and logged["status"] == 200
    assert logged["model"] == "whisper-test" and logged["protocol"] == "openai"
    assert logged["input_tokens"] is None and logged["output_tokens"] is None  # whisper's: none
    text = client(gw).audio.translations.create(
        model="whisper-test", file=("speech.mp3", AUDIO), response_format="text"
    )
    assert text.startswith(f"Translated {len(AUDIO)} bytes")


def test_an_image_edit_is_relayed_with_its_usage_and_cost(gw: Proc) -> None:
    raw = client(gw).images.with_raw_response.edit(
        model="gpt-image-test", image=("in.png", IMAGE, "image/png"), prompt="add a hat"
    )
    image = raw.parse()
    assert image.data is not None and image.data[0].b64_json is not None
    assert image.data[0].revised_prompt == f"add a hat (1 images, {len(IMAGE)} bytes)"
    assert image.usage is not None
    logged = row(gw, raw.headers["x-request-id"])
    assert logged["operation"] == "image_edits" and logged["status"] == 200
    assert logged["input_tokens"] == image.usage.input_tokens and logged["output_tokens"] == 16
    expected = (image.usage.input_tokens * PRICE["input"] + 16 * PRICE["output"]) / 1e6
    assert logged["cost"] == pytest.approx(expected)


def test_an_edit_of_several_images_with_a_mask_arrives_whole(gw: Proc) -> None:
    images = [("a.png", IMAGE, "image/png"), ("b.png", PNG, "image/png")]
    edited = client(gw).images.edit(
        model="gpt-image-test", image=images, mask=("m.png", MASK), prompt="merge", n=2
    )
    assert edited.data is not None and len(edited.data) == 2
    assert edited.data[0].revised_prompt == f"merge (2 images, {len(IMAGE) + len(PNG)} bytes)"


def test_an_image_variation_is_relayed(gw: Proc) -> None:
    raw = client(gw).images.with_raw_response.create_variation(
        model="gpt-image-test", image=("in.png", IMAGE), n=3, response_format="b64_json"
    )
    varied = raw.parse()
    assert varied.data is not None and len(varied.data) == 3
    assert varied.data[0].revised_prompt == f"A variation of {len(IMAGE)} bytes by gpt-image-up"
    logged = row(gw, raw.headers["x-request-id"])
    assert logged["operation"] == "image_variations" and logged["status"] == 200
    assert logged["input_tokens"] is None  # dall-e-2 reports no usage


def test_an_edit_or_variation_without_a_model_goes_to_openais_default(gw: Proc) -> None:
    """OpenAI edits with dall-e-2 when no model is named: the gateway routes that name, and
    tells the upstream the model it serves in a field it adds to the form."""
    varied = client(gw).images.create_variation(image=("in.png", IMAGE))
    assert varied.data is not None
    assert (
        varied.data[0].revised_prompt
        == f"A variation of {len(IMAGE)} bytes by gpt-image-default-up"
    )
    raw = client(gw).images.with_raw_response.edit(image=("in.png", IMAGE), prompt="a hat")
    edited = raw.parse()
    assert edited.data is not None and edited.data[0].b64_json  # a gpt-image model's answer
    assert row(gw, raw.headers["x-request-id"])["model"] == "dall-e-2"


def _each_upload(oa: openai.OpenAI, model: Any) -> dict[str, Any]:
    """Call every upload with ``model``, returning what each raised (None: nothing)."""
    calls: dict[str, Callable[[], object]] = {
        "translations": lambda: oa.audio.translations.create(model=model, file=("a.mp3", AUDIO)),
        "image_edits": lambda: oa.images.edit(model=model, image=("a.png", IMAGE), prompt="x"),
        "image_variations": lambda: oa.images.create_variation(model=model, image=("a.png", PNG)),
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
    oa = client(gw, new_key(gw, models=["whisper-test"]))
    assert oa.audio.translations.create(model="whisper-test", file=("a.mp3", AUDIO)).text
    for name, exc in _each_upload(oa, "gpt-image-test").items():
        assert isinstance(exc, openai.PermissionDeniedError), name
    # An edit without a model asks for OpenAI's default, which this key may not use.
    with pytest.raises(openai.PermissionDeniedError):
        oa.images.edit(image=("a.png", IMAGE), prompt="x")


def test_an_edit_settles_the_key_budget_and_a_spent_budget_refuses_the_next(gw: Proc) -> None:
    resp = httpx.post(
        gw.url + "/admin/keys", json={"budget": 0.000001, "budget_period": "day"}, headers=ADMIN
    )
    assert resp.status_code == 201, resp.text
    oa = client(gw, resp.json()["key"])
    raw = oa.images.with_raw_response.edit(
        model="gpt-image-test", image=("a.png", IMAGE), prompt="x"
    )
    cost = row(gw, raw.headers["x-request-id"])["cost"]
    assert cost > 0

    def spent() -> float:
        shown = httpx.get(f"{gw.url}/admin/keys/{resp.json()['id']}", headers=ADMIN).json()
        return float(shown["spend"]["spent"])

    until(lambda: spent() > 0)
    assert spent() == pytest.approx(cost, abs=1e-6)  # shown rounded
    with pytest.raises(openai.RateLimitError) as caught:
        oa.images.create_variation(model="gpt-image-test", image=("a.png", IMAGE))
    assert "Budget exhausted" in caught.value.message


def test_a_model_on_an_anthropic_provider_is_refused_before_sending(gw: Proc, mock: Proc) -> None:
    before = httpx.get(mock.url + "/_mock/stats").json()["requests"]
    for name, exc in _each_upload(client(gw), "claude-test").items():
        assert isinstance(exc, openai.BadRequestError), name
        error = exc.body
        assert isinstance(error, dict) and error["type"] == "invalid_request_error"
        assert f"does not serve '{name}' requests" in error["message"], error
    assert httpx.get(mock.url + "/_mock/stats").json()["requests"] == before


def test_the_in_process_mock_answers_every_upload(gw: Proc) -> None:
    """``serve --demo``'s provider: the same answers, without a network hop."""
    oa = client(gw)
    heard = oa.audio.translations.create(model="inproc-whisper", file=("a.mp3", AUDIO))
    assert heard.text == f"Translated {len(AUDIO)} bytes of audio for inproc-whisper."
    edited = oa.images.edit(model="inproc-image", image=[("a.png", IMAGE)], prompt="a hat")
    assert edited.data is not None and edited.data[0].url
    varied = oa.images.create_variation(model="inproc-image", image=("a.png", IMAGE))
    assert varied.data is not None
    assert varied.data[0].revised_prompt == f"A variation of {len(IMAGE)} bytes by inproc-image"


def test_the_model_name_does_not_change_the_upstream_path(gw: Proc, mock: Proc) -> None:
    def hits() -> dict[str, int]:
        paths: dict[str, int] = httpx.get(mock.url + "/_mock/stats").json()["by_path"]
        return paths

    before = hits()
    with pytest.raises(openai.BadRequestError) as caught:  # refused before routing
        client(gw).images.create_variation(model="wild-../../chat/completions?#", image=PNG)
    assert caught.value.body["param"] == "model"  # type: ignore[index]
    assert hits() == before
    model = "wild-/chat/completions:stream@x"
    varied = client(gw).images.create_variation(model=model, image=("a.png", PNG))
    assert varied.data is not None and varied.data[0].revised_prompt is not None
    assert varied.data[0].revised_prompt.endswith(f"by {model}")
    after = hits()
    assert after.get("/v1/images/variations", 0) == before.get("/v1/images/variations", 0) + 1
    assert after.get("/v1/chat/completions", 0) == before.get("/v1/chat/completions", 0)


# -- hostile forms, as raw HTTP ---------------------------------------------------------------
UPLOADS = {  # path -> (the file part's name, text fields the operation needs besides model)
    "/v1/audio/transcriptions": ("file", ()),
    "/v1/audio/translations": ("file", ()),
    "/v1/images/edits": ("image", (("prompt", "a hat"),)),
    "/v1/images/variations": ("image", ()),
}
FORM = "multipart/form-data; boundary=b0"


def _text(name: str, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return (
        f'--b0\r\ncontent-disposition: form-data; name="{name}"\r\n\r\n'.encode() + data + b"\r\n"
    )


def _file(name: str, data: bytes) -> bytes:
    head = f'--b0\r\ncontent-disposition: form-data; name="{name}"; filename="x.bin"\r\n'
    return head.encode() + b"content-type: application/octet-stream\r\n\r\n" + data + b"\r\n"


def _part(disposition: bytes, value: bytes = b"claude-test") -> bytes:
    return b"--b0\r\ncontent-disposition: " + disposition + b"\r\n\r\n" + value + b"\r\n"


def _form(path: str, *extra: bytes, model: str | None = "gpt-image-test") -> bytes:
    file, needed = UPLOADS[path]
    parts = [_text(name, value) for name, value in needed]
    if model is not None:
        parts.append(_text("model", model))
    return b"".join([*parts, *extra, _file(file, PNG), b"--b0--\r\n"])


def _post(gw: Proc, path: str, body: bytes, content_type: str = FORM) -> httpx.Response:
    headers = {**ADMIN, "content-type": content_type}
    return httpx.post(gw.url + path, content=body, headers=headers, timeout=30)


SMUGGLED = b'\r\n--b0\r\ncontent-disposition: form-data; name="model"\r\n\r\nclaude-test'
HOSTILE: dict[str, Callable[[str], tuple[str, bytes]]] = {
    "model-twice": lambda p: (FORM, _form(p, _text("model", "whisper-test"))),
    "model-as-a-file": lambda p: (FORM, _form(p, _file("model", b"claude-test"), model=None)),
    "model-and-a-file-named-model": lambda p: (FORM, _form(p, _file("model", b"claude-test"))),
    "a-name-for-a-file-and-a-field": lambda p: (
        FORM,
        _form(p, _file("language", b"x"), _text("language", "en")),
    ),
    "model-not-utf8": lambda p: (FORM, _form(p, model="gpt-\xff").replace(b"\xc3\xbf", b"\xff")),
    "smuggled-part": lambda p: (FORM, _form(p, _file("extra", b"data" + SMUGGLED))),
    "two-boundaries": lambda p: (FORM + "; boundary=b1", _form(p)),
    "wrong-boundary": lambda p: ("multipart/form-data; boundary=zz", _form(p)),
    "long-boundary": lambda p: ("multipart/form-data; boundary=" + "b" * 71, _form(p)),
    "cut": lambda p: (FORM, _form(p)[:-12]),
    "endless-head": lambda p: (FORM, b"--b0\r\n" + b"x" * 10_000),
    "many-parts": lambda p: (FORM, _form(p, *[_text(f"f{i}", "1") for i in range(70)])),
    "huge-field": lambda p: (FORM, _form(p, _text("prompt2", "x" * 70_000))),
    "json": lambda p: ("application/json", b'{"model": "gpt-image-test"}'),
    # A second model the gateway would not see, read by an upstream's strict parser (a
    # quoted parameter holding "name=", the last of two dispositions, the last of two names).
    "model-behind-a-quoted-parameter": lambda p: (
        FORM,
        _form(p, _part(b'form-data; x="; name=extra;"; name="model"', b"claude-test")),
    ),
    "two-dispositions": lambda p: (
        FORM,
        _form(p, _part(b'form-data; name="extra"\r\ncontent-disposition: form-data; name="model"')),
    ),
    "name-twice": lambda p: (FORM, _form(p, _part(b'form-data; name="extra"; name="model"'))),
    "folded-disposition": lambda p: (
        FORM,
        _form(p, _part(b'form-data; name="extra";\r\n name="model"')),
    ),
    # An array or map of models, which qs-style parsers (PHP, Rails, Express) read as ``model``.
    "model-as-an-array": lambda p: (FORM, _form(p, _text("model[]", "claude-test"))),
    "model-as-a-map": lambda p: (FORM, _form(p, _text("model[0]", "claude-test"), model=None)),
    "names-run-together": lambda p: (
        FORM,
        _form(p, _part(b'form-data; name="extra" name="model"')),
    ),
    "escaped-quote-in-a-name": lambda p: (FORM, _form(p, _part(b'form-data; name="x\\"; a="b"'))),
}


@pytest.mark.parametrize("path", list(UPLOADS))
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_form_the_gateway_cannot_read_unambiguously_is_a_400(
    gw: Proc, mock: Proc, path: str, case: str
) -> None:
    before = httpx.get(mock.url + "/_mock/stats").json()["requests"]
    content_type, body = HOSTILE[case](path)
    resp = _post(gw, path, body, content_type)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"], error
    assert httpx.get(mock.url + "/_mock/stats").json()["requests"] == before  # nothing sent


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/translations"])
def test_an_audio_form_without_a_model_is_a_400_naming_it(gw: Proc, path: str) -> None:
    resp = _post(gw, path, _form(path, _text("language", "en"), model=None))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == "model"


@pytest.mark.parametrize("path", list(UPLOADS))
def test_a_form_over_the_body_limit_is_a_413(gw: Proc, path: str) -> None:
    resp = _post(gw, path, _form(path, _file("extra", bytes(BODY_LIMIT))))
    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["message"]


def test_a_delimiter_lookalike_inside_a_file_is_file_content(gw: Proc) -> None:
    """``--b0`` inside a file, not followed by a line end, ends nothing: the gateway and the
    upstream both see one file, every byte of it."""
    data = PNG + b"\r\n--b0X\r\n--b0 x\r\n--b0-" + bytes(300)
    body = _text("model", "gpt-image-test") + _file("image", data) + b"--b0--\r\n"
    resp = _post(gw, "/v1/images/variations", body)
    assert resp.status_code == 200, resp.text
    assert (
        resp.json()["data"][0]["revised_prompt"]
        == f"A variation of {len(data)} bytes by gpt-image-up"
    )
