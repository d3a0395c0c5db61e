"""An upstream error that quotes the gateway's provider key back (some OpenAI-compatible
servers and proxies say ``Invalid API key: <the key>``) must not hand that key to the client:
an error answer is relayed with the key it was sent with masked. The OpenAI and Anthropic SDKs
are the clients, the hostile upstream (tests/support/rogue.py) the provider."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.support.procs import Proc, start_gateway

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


@pytest.fixture(scope="module")
def gw(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {"bad": upstream(rogue_server, "400"), "busy": upstream(rogue_server, "503")},
        "models": {
            "gpt-bad": {"deployments": [{"provider": "bad"}]},
            "gpt-busy": {"deployments": [{"provider": "busy"}]},
        },
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("echo"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


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
