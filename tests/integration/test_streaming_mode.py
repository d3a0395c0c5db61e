"""``streaming_mode: disabled``: upstreams are never asked for a stream, and streaming clients
of all three protocols still get a well-formed stream, judged by the official SDKs.

The gateway runs the conformance config with every provider in disabled mode, written the
llmGateway way (``gateway_policy.streaming_mode``) so the seed spelling is exercised end to end.
The mock reports whether it was asked for a stream (``x-mock-streamed``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.clients import CLIENTS, Client
from tests.conformance.conftest import PROVIDER_TYPES, conformance_config, model_for
from tests.support.procs import Proc, start_gateway

TOKENS = 5


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config: dict[str, Any] = conformance_config(mock)
    for provider in config["providers"].values():
        provider["gateway_policy"] = {"streaming_mode": "disabled"}
    proc = start_gateway(config, tmp_path_factory.mktemp("unstreamed"), ready_within=60)
    yield proc
    proc.stop()


@pytest.mark.parametrize("provider", PROVIDER_TYPES)
@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_streaming_clients_get_a_stream_from_a_plain_answer(
    gw: Proc, client_name: str, provider: str
) -> None:
    client: Client = CLIENTS[client_name](gw.url)
    answer = client.ask(model_for(provider), stream=True, tokens=TOKENS)
    assert answer.text == "Lorem ipsum dolor sit amet"
    assert answer.finish == client.stop
    assert answer.output_tokens == TOKENS
    assert answer.input_tokens is not None and answer.input_tokens > 0
    assert answer.headers["x-mock-streamed"] == "false"
    assert answer.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_tool_calls_survive_the_replay(gw: Proc, client_name: str) -> None:
    client: Client = CLIENTS[client_name](gw.url)
    first = client.ask(model_for(client_name), stream=True, tools=True)
    assert first.calls and first.finish == client.tool_stop
    assert first.headers["x-mock-streamed"] == "false"


def test_plain_calls_are_unchanged(gw: Proc) -> None:
    client: Client = CLIENTS["openai"](gw.url)
    answer = client.ask(model_for("openai"), tokens=TOKENS)
    assert answer.text.startswith("Lorem ipsum") and answer.output_tokens == TOKENS
    assert answer.headers["content-type"].startswith("application/json")
