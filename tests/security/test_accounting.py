"""A client must not be able to make a call count fewer tokens than it used.

Usage is read from the bytes an upstream answers (turnout/usage/scan.py) for the request log,
prices, token limits and budgets. These tests play a client that shapes its request so the
answer hides its real usage, through the official SDK, against the mock provider (which
answers like OpenAI, echoes included) behind a real gateway.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.support.procs import Proc, start_gateway, start_mock
from tests.support.request_log import request_line

# Enough output that the answer body is scanned for its usage rather than parsed whole.
TOKENS = {"x-mock-tokens": "600"}


@pytest.fixture(scope="module")
def mock() -> Iterator[Proc]:
    proc = start_mock()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "storage": {"enabled": False},
        "providers": {
            "up": {
                "type": "openai",
                "base_url": mock.url + "/v1",
                "api_keys": ["sk-up-000000001"],
                "forward_headers": ["x-mock-*"],
            }
        },
        "models": {"gpt-*": {"deployments": [{"provider": "up"}]}},
    }
    proc = start_gateway(config, Path(tmp_path_factory.mktemp("accounting")))
    yield proc
    proc.stop()


def _client(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


def _counted(gateway: Proc, request_id: str) -> tuple[int, int]:
    line = request_line(gateway, request_id)
    return line["input_tokens"], line["output_tokens"]


def test_a_metadata_key_named_usage_does_not_hide_a_responses_answer_usage(
    gateway: Proc,
) -> None:
    """A Responses answer echoes the request's ``metadata`` after its ``usage``: the key
    ``usage`` there (a string, as OpenAI requires) was the last one in the body, so the call
    was logged and settled without its tokens."""
    reply = _client(gateway).responses.with_raw_response.create(
        model="gpt-x", input="hi", metadata={"usage": "x"}, extra_headers=TOKENS
    )
    usage = reply.parse().usage
    assert usage is not None and usage.output_tokens == 600
    assert _counted(gateway, reply.headers["x-request-id"]) == (usage.input_tokens, 600)


def test_a_metadata_key_named_usage_does_not_hide_a_responses_stream_usage(
    gateway: Proc,
) -> None:
    with _client(gateway).responses.with_streaming_response.create(
        model="gpt-x", input="hi", metadata={"usage": "x"}, stream=True, extra_headers=TOKENS
    ) as reply:
        request_id = reply.headers["x-request-id"]
        events = list(reply.parse())
    done = events[-1]
    assert done.type == "response.completed" and done.response.usage is not None
    usage = done.response.usage
    assert usage.output_tokens == 600
    assert _counted(gateway, request_id) == (usage.input_tokens, 600)
