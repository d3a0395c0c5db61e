"""Issue 12 items 1 and 2: a client-chosen model name must never change the upstream URL or
break a response header.

Every attack goes through a glob route whose deployment forwards the requested name
(``model: *``, what zero-config mode builds for ``gemini-*``), against a hostile upstream that
records each request byte for byte: the gateway must refuse the name with a 400 in the client's
own error shape, marked not retryable, and the upstream must see nothing at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, rogue_requests, start_gateway

GEMINI_BODY = b'{"contents":[{"parts":[{"text":"hi"}]}]}'


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    gemini = {"type": "gemini", "base_url": rogue_server.url, "api_keys": ["gk-gateway-secret-01"]}
    config = {
        "storage": {"enabled": False},
        "providers": {"gem": gemini},
        "models": {"gem-*": {"deployments": [{"provider": "gem"}]}},
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("inject"))
    yield proc
    proc.stop()


def _gemini_path(gateway: Proc, raw_model: str) -> rawhttp.RawReply:
    """POST the Gemini path with ``raw_model`` exactly as written (percent-escapes kept)."""
    head = rawhttp.post(
        f"/v1beta/models/{raw_model}:generateContent", GEMINI_BODY, "Connection: close"
    )
    reply = rawhttp.request(gateway.port, head)
    assert reply is not None, "the gateway closed the connection without an answer"
    return reply


@pytest.mark.parametrize(
    "raw_model",
    [
        "gem-x%2F..%2F..%2Fv1beta%2Ffiles",  # path walk with the gateway's key
        "gem-x%3Fkey%3Dattacker%23",  # query injection, fragment to cut the action off
        "gem-a%20b",  # a space in the upstream request line
        "gem-a%00b",  # NUL
        "gem-a%0D%0AX-Injected:%201",  # header injection through the request line
        "gem-%C3%A9",  # non-ASCII: used to be a 500
        "gem-" + "x" * 300,  # not a plausible identifier
    ],
)
def test_hostile_model_in_the_gemini_path_never_reaches_the_upstream(
    gateway: Proc, rogue: Proc, raw_model: str
) -> None:
    reply = _gemini_path(gateway, raw_model)
    assert reply.status == 400
    assert reply.headers["x-should-retry"] == "false"
    error: Any = reply.json()
    assert error["error"]["status"] == "INVALID_ARGUMENT"  # Gemini's own error shape
    assert "Invalid model name" in error["error"]["message"]
    assert rogue_requests(rogue) == []


@pytest.mark.parametrize(
    "model",
    [
        "gem-x/../../../v1beta/corpora#",
        "gem-x?key=attacker",
        "gem-x\r\nx-injected: 1",  # item 2: used to leave the client without any answer
        "gem-x\nsplit",
        "gem-x\x00",
        "gem-é",
        "",
    ],
)
def test_hostile_model_in_a_json_body_never_reaches_the_upstream(
    gateway: Proc, rogue: Proc, model: str
) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert caught.value.param == "model" or model == ""
    assert rogue_requests(rogue) == []


def test_crlf_model_on_the_anthropic_route_gets_an_anthropic_error(
    gateway: Proc, rogue: Proc
) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="gem-x\r\nx-injected: 1",
            max_tokens=8,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert rogue_requests(rogue) == []


def test_a_plausible_name_with_a_slash_stays_one_path_segment(gateway: Proc, rogue: Proc) -> None:
    """Names such as ``org/model`` are legitimate; in a Gemini URL the slash is escaped."""
    # The rogue's empty answer is then refused (502): only the request it got matters here.
    httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gem-org/model:v1@2", "messages": [{"role": "user", "content": "hi"}]},
    )
    (sent,) = rogue_requests(rogue)
    line = sent["head"].split("\r\n", 1)[0]
    assert line == "POST /v1beta/models/gem-org%2Fmodel%3Av1%402:generateContent HTTP/1.1"
    assert "key=" not in line


def test_an_ordinary_gemini_call_is_untouched(gateway: Proc, rogue: Proc) -> None:
    reply = httpx.post(
        gateway.url + "/v1beta/models/gem-2.0-flash:generateContent",
        content=GEMINI_BODY,
        headers={"x-goog-api-key": "client-key"},
    )
    (sent,) = rogue_requests(rogue)
    assert sent["head"].startswith("POST /v1beta/models/gem-2.0-flash:generateContent HTTP/1.1")
    assert "client-key" not in sent["head"]  # the client's key never travels upstream
    assert reply.status_code != 400


def test_request_ids_that_are_not_tokens_are_replaced(gateway: Proc, rogue: Proc) -> None:
    reply = rawhttp.request(
        gateway.port,
        rawhttp.post(
            "/v1beta/models/gem-ok:generateContent",
            GEMINI_BODY,
            "X-Request-Id: a\tb\xff",
            "Connection: close",
        ),
    )
    assert reply is not None
    rid = reply.headers["x-request-id"]
    assert rid and "\t" not in rid and rid.isascii()
    (sent,) = rogue_requests(rogue)
    assert f"x-request-id: {rid}\r\n" in sent["head"]
