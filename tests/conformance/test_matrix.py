"""Every official SDK against every provider type, through a real gateway process.

One scenario list is stamped onto every cell (client SDK x provider type, the clouds
included: Azure OpenAI, Gemini and Claude on Vertex AI, Claude on Bedrock). Where the client
speaks the upstream's protocol its bytes pass through; every other cell goes through the IR.
Each scenario asserts what the client's own SDK exposes (content, finish reason, usage, tool
calls, typed exceptions) and, via the mock's echo headers, what reached the upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conformance.clients import CLIENTS, TOOL_ARGS, TOOL_NAME, Answer, Client
from tests.conformance.conftest import (
    AUTH_STYLE,
    CLOUD_TYPES,
    PROVIDER_TYPES,
    UPSTREAM_MODEL,
    model_for,
)
from tests.support.procs import Proc

Scenario = Callable[[Client, str], None]
TOKENS = 5


@pytest.fixture(scope="module")
def clients(gw: Proc) -> Iterator[dict[str, Client]]:
    yield {name: cls(gw.url) for name, cls in CLIENTS.items()}


def _plain(client: Client, answer: Answer) -> None:
    assert answer.text.startswith("Lorem ipsum"), answer.text
    assert answer.finish == client.stop
    assert answer.output_tokens == TOKENS
    assert answer.input_tokens is not None and answer.input_tokens > 0
    assert not answer.calls


def text(client: Client, provider: str) -> None:
    answer = client.ask(model_for(provider), tokens=TOKENS)
    _plain(client, answer)
    # The deployment's model name and the provider's own credential reached the upstream;
    # the client's key did not (x-mock-auth lists every credential style it received).
    assert answer.headers["x-mock-request-model"] == UPSTREAM_MODEL[provider]
    assert answer.headers["x-mock-auth"] == AUTH_STYLE[provider]


def stream(client: Client, provider: str) -> None:
    answer = client.ask(model_for(provider), stream=True, tokens=TOKENS)
    _plain(client, answer)
    assert answer.text == "Lorem ipsum dolor sit amet"
    assert answer.headers["content-type"].startswith("text/event-stream")


def _tool_round_trip(client: Client, provider: str, streamed: bool) -> None:
    model = model_for(provider)
    first = client.ask(model, stream=streamed, tools=True)
    assert [(c.name, c.args) for c in first.calls] == [(TOOL_NAME, TOOL_ARGS)]
    assert first.finish == client.tool_stop
    assert first.output_tokens is not None and first.output_tokens > 0
    second = client.answer_tool(model, first, stream=streamed, thinking=False)
    # The mock echoes the tool result it received as the first words of its answer.
    assert second.text.startswith("Tool result:"), second.text
    assert "21" in second.text
    assert second.finish == client.stop
    assert not second.calls


def tools(client: Client, provider: str) -> None:
    _tool_round_trip(client, provider, streamed=False)


def tools_stream(client: Client, provider: str) -> None:
    _tool_round_trip(client, provider, streamed=True)


def image(client: Client, provider: str) -> None:
    answer = client.ask(model_for(provider), image=True)
    assert answer.headers["x-mock-images-received"] == "1"
    assert answer.finish == client.stop


def error(client: Client, provider: str) -> None:
    """An upstream error reaches the client as its SDK's typed exception, same status."""
    for status, exc_type in client.errors.items():
        headers = {"x-mock-status": str(status), "x-mock-retry-after": "0"}
        with pytest.raises(exc_type) as info:
            client.ask(model_for(provider), headers=headers)
        got = getattr(info.value, "status_code", None) or getattr(info.value, "code", None)
        assert got == status, (status, info.value)


def cut_stream(client: Client, provider: str) -> None:
    """The upstream drops the connection mid-stream: the client reads an error frame in its
    own dialect (not a clean end, not just a broken connection)."""
    headers = {"x-mock-fault": "disconnect"}
    with pytest.raises(Exception) as info:
        client.ask(model_for(provider), stream=True, tokens=20, headers=headers)
    assert client.in_band_error(info.value), repr(info.value)


def midstream_error(client: Client, provider: str) -> None:
    """The upstream writes an error event mid-stream: the client's SDK raises."""
    headers = {"x-mock-fault": "error-midstream"}
    with pytest.raises(Exception) as info:
        client.ask(model_for(provider), stream=True, tokens=20, headers=headers)
    assert client.in_band_error(info.value), repr(info.value)


SCENARIOS: dict[str, Scenario] = {
    f.__name__: f
    for f in (text, stream, tools, tools_stream, image, error, cut_stream, midstream_error)
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("provider", (*PROVIDER_TYPES, *CLOUD_TYPES))
@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_cell(clients: dict[str, Client], client_name: str, provider: str, scenario: str) -> None:
    SCENARIOS[scenario](clients[client_name], provider)
