"""What many request bodies at once can make the gateway hold.

Before (2026-12-08), every body was read whole before anything else, the key included: fifty
connections each sending a 10 MB body and stalling held 583 MB without any key, and with one
the held bodies had no bound at all. Now the key is checked before the body is read, and the
bodies over 64 KiB held at once are bounded by ``server.max_held_body_bytes``: one that would
pass it is a retryable 503 in the request's protocol, before the rest of it is read.

Here the bound is 1 MB so that the official SDKs reach it with a body of 1.2 MB.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.support import rawhttp
from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

MASTER = "held-bodies-master-key-0123456789"
ROOM = 1_000_000


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        # A stalled body must outlive the test's waits: only the client ends it here.
        "server": {"max_held_body_bytes": ROOM, "body_timeout": 600},
        "providers": {"mock": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "mock"}]}},
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("held"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def _openai(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=MASTER, max_retries=0)


def _chat(gateway: Proc, size: int) -> Any:
    text = "a" * size
    return _openai(gateway).chat.completions.create(
        model="m", messages=[{"role": "user", "content": text}]
    )


def _body(size: int) -> bytes:
    return orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "a" * size}]})


def test_a_wrong_key_is_refused_before_its_body_is_read(gateway: Proc) -> None:
    for path, key in (
        ("/v1/chat/completions", "Authorization: Bearer sk-wrong"),
        ("/v1/messages", "x-api-key: sk-wrong"),
    ):
        head = rawhttp.announce(path, 5_000_000, key, "Content-Type: application/json")
        with rawhttp.connect(gateway.port) as sock:
            sock.sendall(head)  # and not one byte of the body
            reply = rawhttp.read_reply(sock)
        assert reply is not None and reply.status == 401, reply
        error: Any = reply.json()
        kind = error["error"]["type"]
        assert kind in ("invalid_request_error", "authentication_error"), error


def test_a_body_past_the_bound_is_a_retryable_503_in_each_protocol(gateway: Proc) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        _chat(gateway, 1_200_000)
    assert raised.value.status_code == 503
    assert raised.value.response.headers["x-should-retry"] == "true"
    assert raised.value.response.headers["retry-after"] == "1"
    body: Any = raised.value.body
    assert body["code"] == "overloaded" and "max_held_body_bytes" in body["message"]

    client = anthropic.Anthropic(base_url=gateway.url, api_key=MASTER, max_retries=0)
    with pytest.raises(anthropic.InternalServerError) as refused:
        client.messages.create(
            model="m", max_tokens=8, messages=[{"role": "user", "content": "a" * 1_200_000}]
        )
    assert refused.value.status_code == 503
    data: Any = refused.value.body
    assert data["type"] == "error" and "max_held_body_bytes" in data["error"]["message"]

    gemini = genai.Client(
        api_key=MASTER,
        http_options=gt.HttpOptions(
            base_url=gateway.url, retry_options=gt.HttpRetryOptions(attempts=1)
        ),
    )
    with pytest.raises(genai_errors.ServerError) as unavailable:
        gemini.models.generate_content(model="m", contents="a" * 1_200_000)
    assert unavailable.value.code == 503 and unavailable.value.status == "UNAVAILABLE"

    # Nothing was kept of the refused ones: bodies that fit pass, one after another, each
    # given back (three of 400 kB would pass the bound if any were not).
    for _ in range(3):
        assert _chat(gateway, 400_000).choices[0].message.content
    assert _chat(gateway, 10).choices[0].message.content


def test_a_chunked_body_is_refused_once_it_grows_past_the_bound(gateway: Proc) -> None:
    body = _body(1_200_000)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {MASTER}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with rawhttp.connect(gateway.port) as sock:
        sock.sendall(head)
        try:
            for i in range(0, len(body), 65536):
                part = body[i : i + 65536]
                sock.sendall(b"%x\r\n%b\r\n" % (len(part), part))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = rawhttp.read_reply(sock)
    assert reply is not None and reply.status == 503, reply
    error: Any = reply.json()
    assert error["error"]["code"] == "overloaded"


def test_bodies_held_by_other_requests_count_until_they_end(gateway: Proc) -> None:
    body = _body(800_000)
    head = rawhttp.announce("/v1/chat/completions", len(body), f"Authorization: Bearer {MASTER}")
    stalled = rawhttp.connect(gateway.port)
    try:
        stalled.sendall(head + body[:-10])  # all but its last bytes: held, never finished

        def refused() -> bool:
            try:
                _chat(gateway, 400_000)
            except openai.InternalServerError as exc:
                return exc.status_code == 503
            return False

        until(refused, limit=60)
        assert _chat(gateway, 10).choices[0].message.content  # small bodies always pass
    finally:
        stalled.shutdown(socket.SHUT_RDWR)
        stalled.close()

    def served() -> bool:
        try:
            return bool(_chat(gateway, 400_000).choices)
        except openai.InternalServerError:
            return False

    until(served, limit=60)  # the stalled body was given back when its client left
