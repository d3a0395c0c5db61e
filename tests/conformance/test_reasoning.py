"""Reasoning state survives a translated agent loop.

Turn 1 asks for thinking and offers a tool: the upstream answers with reasoning, a signature
and a tool call. Turn 2 is what an agent loop sends: the assistant turn exactly as the
client's SDK returned it, plus the tool result. The mock counts the signatures that came back
(``x-mock-signatures-received``): Anthropic and Gemini need theirs to continue, so through
every cross-protocol cell the signature must ride in the client's own format and be restored.
OpenAI-compatible upstreams mint no signatures: there the loop must simply keep working.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance.clients import CLIENTS, TOOL_ARGS, TOOL_NAME, Client
from tests.conformance.conftest import PROVIDER_TYPES, model_for
from tests.support.procs import Proc

CELLS = [(c, p) for c in CLIENTS for p in PROVIDER_TYPES]
SIGNS = {"openai": 0, "anthropic": 1, "gemini": 1}


@pytest.fixture(scope="module")
def clients(gw: Proc) -> Iterator[dict[str, Client]]:
    yield {name: cls(gw.url) for name, cls in CLIENTS.items()}


@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
@pytest.mark.parametrize(("client_name", "provider"), CELLS)
def test_two_turn_tool_loop_with_thinking(
    clients: dict[str, Client], client_name: str, provider: str, stream: bool
) -> None:
    client = clients[client_name]
    model = model_for(provider)
    first = client.ask(model, stream=stream, tools=True, thinking=True)
    assert [(c.name, c.args) for c in first.calls] == [(TOOL_NAME, TOOL_ARGS)]
    assert first.finish == client.tool_stop
    assert first.headers["x-mock-signatures-received"] == "0"
    if provider != "openai":  # OpenAI shows no reasoning text
        assert first.thinking  # the reasoning reached the client in its own shape
    second = client.answer_tool(model, first, stream=stream, thinking=True)
    assert second.headers["x-mock-signatures-received"] == str(SIGNS[provider])
    assert second.text.startswith("Tool result:"), second.text
    assert second.finish == client.stop
