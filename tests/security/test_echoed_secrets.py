"""An upstream that quotes the gateway's provider key back must not hand that key to the
client: an error (some OpenAI-compatible servers and proxies say ``Invalid API key: <the
key>``), and a 2xx answer too (a debug server or proxy echoing the request's headers into a
header, the body or a stream, the key split across two chunks), is relayed with the key it was
sent with masked. The OpenAI and Anthropic SDKs are the clients, the hostile upstream
(tests/support/rogue.py) and the scripted one (tests/support/scripted.py) the providers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.procs import Proc, start_gateway, start_scripted

pytestmark = pytest.mark.timeout(120)

MASTER = "echo-master-key-0123456789"
PROVIDER_KEY = "pk-live-0123456789abcdefECHOED"


def upstream(rogue: Proc, status: str) -> dict[str, object]:
    said = {"error": {"message": f"Invalid API key: {PROVIDER_KEY}", "type": "invalid_request"}}
    return {
        "type": "openai-compatible",
        "base_url": rogue.url + "/v1",
        "api_keys": [PROVIDER_KEY],
        "headers": {"x-rogue-status": status, "x-rogue-body": json.dumps(said)},
    }


def completion(text: str) -> str:
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    answer = {"id": "c1", "object": "chat.completion", "model": "m", "choices": [choice]}
    return json.dumps({**answer, "created": 1, "usage": usage})


def echoing(rogue: Proc) -> dict[str, object]:
    """A 200 that quotes the key in a header and in the answer's text (a debug echo)."""
    return {
        "type": "openai-compatible",
        "base_url": rogue.url + "/v1",
        "api_keys": [PROVIDER_KEY],
        "headers": {
            "x-rogue-status": "200",
            "x-rogue-body": completion(f"you sent Bearer {PROVIDER_KEY} twice: {PROVIDER_KEY}"),
            "x-rogue-reply-x-echo-authorization": f"Bearer {PROVIDER_KEY}",
        },
    }


def sse(text: str) -> str:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    return (
        "data: "
        + json.dumps(
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [choice],
            }
        )
        + "\n\n"
    )


# The key's event cut in two chunks in the middle of the key, then the key again whole, then
# one chunk ending in the key's first bytes that turn out to be no key.
EVENT = sse(f"key={PROVIDER_KEY}.")
CUT = EVENT.index(PROVIDER_KEY) + 11
SPLIT: dict[str, Any] = {
    "type": "text/event-stream",
    "chunks": [
        EVENT[:CUT],
        EVENT[CUT:],
        sse(PROVIDER_KEY) + sse("pk-li"),
        sse("ve!"),
        "data: [DONE]\n\n",
    ],
}


@pytest.fixture(scope="module")
def gw(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("echo")
    scripted = start_scripted({"split": SPLIT}, tmp)
    streamed = {
        "type": "openai-compatible",
        "base_url": scripted.url + "/v1",
        "api_keys": [PROVIDER_KEY],
    }
    config = {
        "providers": {
            "bad": upstream(rogue_server, "400"),
            "busy": upstream(rogue_server, "503"),
            "echo": echoing(rogue_server),
            "split": streamed,
        },
        "models": {
            "gpt-bad": {"deployments": [{"provider": "bad"}]},
            "gpt-busy": {"deployments": [{"provider": "busy"}]},
            "gpt-echo": {"deployments": [{"provider": "echo"}]},
            "gpt-split": {"deployments": [{"provider": "split", "model": "split"}]},
        },
    }
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()
    scripted.stop()


@pytest.mark.parametrize("model", ["gpt-bad", "gpt-busy"])
def test_an_echoed_provider_key_never_reaches_an_openai_client(gw: Proc, model: str) -> None:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    relayed = caught.value.response.text
    assert "Invalid API key" in relayed  # the upstream's answer, relayed
    assert PROVIDER_KEY not in relayed and PROVIDER_KEY[-8:] not in relayed
    assert PROVIDER_KEY not in gw.output()


def test_an_echoed_provider_key_never_reaches_a_translated_client(gw: Proc) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=MASTER, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(
            model="gpt-bad", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    relayed = caught.value.response.text
    assert caught.value.status_code == 400
    assert PROVIDER_KEY not in relayed and PROVIDER_KEY[-8:] not in relayed


def leaked(text: str) -> bool:
    return PROVIDER_KEY in text or PROVIDER_KEY[-8:] in text


def test_a_2xx_answer_never_carries_the_provider_key(gw: Proc) -> None:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-echo", messages=[{"role": "user", "content": "hi"}]
    )
    said = raw.parse().choices[0].message.content
    assert said == "you sent Bearer [redacted] twice: [redacted]"
    assert raw.headers["x-echo-authorization"] == "Bearer [redacted]"
    assert not leaked(raw.http_response.text) and not leaked(str(raw.headers))


def test_a_translated_2xx_answer_never_carries_the_provider_key(gw: Proc) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=MASTER, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="gpt-echo", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    message = raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "you sent Bearer [redacted] twice: [redacted]"
    assert not leaked(raw.http_response.text) and not leaked(str(raw.headers))


def test_a_stream_never_carries_the_provider_key_even_split_across_chunks(gw: Proc) -> None:
    body = {"model": "gpt-split", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    headers = {"authorization": f"Bearer {MASTER}"}
    with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, headers=headers) as r:
        assert r.status_code == 200
        wire = b"".join(r.iter_raw()).decode()
    assert not leaked(wire)
    assert wire.count("[redacted]") == 2 and wire.endswith("data: [DONE]\n\n")

    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-split", stream=True, messages=[{"role": "user", "content": "x"}]
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "key=[redacted].[redacted]pk-live!"
    assert not leaked(gw.output())
