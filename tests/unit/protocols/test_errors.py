"""Error rendering/parsing per dialect, judged by the official SDKs' exception classes."""

from __future__ import annotations

import anthropic
import openai
import orjson
import pytest
from google.genai import errors as genai_errors

from tests.unit.protocols import sdk
from tests.unit.protocols.fixtures import UPSTREAM_STREAMS
from tests.unit.protocols.helpers import pipeline, validate
from turnout.ir import ErrorInfo, ErrorKind, TranslationError
from turnout.protocols.anthropic import errors as an_err
from turnout.protocols.errors import translation_error_info
from turnout.protocols.gemini import errors as gm_err
from turnout.protocols.openai import errors as oa_err

ERRORS = {"openai": oa_err, "anthropic": an_err, "gemini": gm_err}


def test_openai_render_and_parse() -> None:
    status, body = oa_err.render(ErrorInfo(429, ErrorKind.RATE_LIMIT, "slow down"))
    assert status == 429
    assert body == {
        "error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": None}
    }
    info = oa_err.parse(
        400,
        orjson.dumps(
            {
                "error": {
                    "message": "bad",
                    "type": "invalid_request_error",
                    "param": "n",
                    "code": None,
                }
            }
        ),
    )
    assert (info.kind, info.message, info.param) == (ErrorKind.INVALID_REQUEST, "bad", "n")


def test_anthropic_render_uses_529_for_overload_and_parses_types() -> None:
    status, body = an_err.render(ErrorInfo(503, ErrorKind.OVERLOADED, "busy"))
    assert status == 529
    assert body == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    info = an_err.parse(
        404, {"type": "error", "error": {"type": "not_found_error", "message": "no model"}}
    )
    assert info.kind == ErrorKind.NOT_FOUND and info.type == "not_found_error"


def test_gemini_render_and_parse() -> None:
    status, body = gm_err.render(ErrorInfo(529, ErrorKind.OVERLOADED, "busy"))
    assert status == 503
    assert body["error"] == {"code": 503, "message": "busy", "status": "UNAVAILABLE"}
    info = gm_err.parse(
        429, b'[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]'
    )
    assert info.kind == ErrorKind.RATE_LIMIT and info.message == "quota"


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini"])
def test_non_json_error_bodies_never_raise(protocol: str) -> None:
    info = ERRORS[protocol].parse(502, b"<html>Bad gateway</html>")
    assert info.status == 502 and info.kind == ErrorKind.SERVER
    assert "Bad gateway" in info.message


def test_translation_error_renders_as_400_naming_the_field() -> None:
    info = translation_error_info(TranslationError("logprobs", "no equivalent"))
    status, body = oa_err.render(info)
    assert status == 400 and body["error"]["param"] == "logprobs"
    status, body = an_err.render(info)
    assert status == 400 and "logprobs" in body["error"]["message"]


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini"])
def test_rendered_http_errors_raise_the_sdk_status_errors(protocol: str) -> None:
    status, body = ERRORS[protocol].render(ErrorInfo(400, ErrorKind.INVALID_REQUEST, "nope"))
    raw = orjson.dumps(body)
    if protocol == "openai":
        with pytest.raises(openai.BadRequestError, match="nope"):
            sdk.openai_client(raw, status, stream=False).chat.completions.create(
                model="m", messages=sdk.MESSAGES
            )
    elif protocol == "anthropic":
        with pytest.raises(anthropic.BadRequestError, match="nope"):
            sdk.anthropic_client(raw, status, stream=False).messages.create(
                model="m", max_tokens=5, messages=sdk.MESSAGES
            )
    else:
        with pytest.raises(genai_errors.ClientError, match="nope"):
            sdk.genai_client(raw, status, stream=False).models.generate_content(
                model="m", contents="hi"
            )


TRUNCATED = {
    "openai": UPSTREAM_STREAMS["openai"]["tool"][:300],
    "anthropic": UPSTREAM_STREAMS["anthropic"]["tool"][:900],
    "gemini": UPSTREAM_STREAMS["gemini"]["tool"][:400],
}


@pytest.mark.parametrize("src", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("dst", ["openai", "anthropic", "gemini"])
def test_truncated_upstream_becomes_a_client_error_frame(src: str, dst: str) -> None:
    raw = pipeline(src, dst, [TRUNCATED[src]])
    result = validate(dst, raw)
    assert result.error is not None
    assert b"[DONE]" not in raw and b"message_stop" not in raw


@pytest.mark.parametrize("dst", ["openai", "anthropic", "gemini"])
def test_mid_stream_upstream_error_raises_in_the_client_sdk(dst: str) -> None:
    upstream = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m",'
        b'"model":"c","usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    raw = pipeline("anthropic", dst, [upstream])
    if dst == "openai":
        with pytest.raises(openai.APIError, match="Overloaded"):
            sdk.openai_stream(raw)
    elif dst == "anthropic":
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            sdk.anthropic_stream(raw)
    else:
        with pytest.raises(genai_errors.APIError, match="Overloaded"):
            sdk.genai_stream(raw)
