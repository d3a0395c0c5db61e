"""Hostile sticky identities: huge, non-ASCII or malformed session ids and prompt cache keys
are a client's own pin (or no pin), never a 500, and cost a pin's fixed size.

A real gateway, a ``sticky`` model over two mock deployments, the official OpenAI SDK (and raw
httpx for header bytes the SDK will not send).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway

MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {
            "mock": mock_provider(mock),
            "steady": {**mock_provider(mock), "forward_headers": []},
        },
        "models": {
            "pinned": {
                "strategy": "sticky",
                "strategy_options": {"max_entries": 16},
                "deployments": [
                    {"provider": "mock", "model": "s-first", "priority": 0},
                    {"provider": "steady", "model": "s-second", "priority": 1},
                ],
            }
        },
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("sticky-ids"))
    yield proc
    proc.stop()


def _raw(gateway: Proc, headers: dict[str, Any], **body: Any) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        headers={"authorization": "Bearer k", **headers},
        json={"model": "pinned", "messages": MESSAGES, "max_tokens": 2, **body},
        timeout=30,
    )


@pytest.mark.parametrize(
    "session",
    [b"s" * 7000, "sitzung-\u00e4\u00f6\u00fc-\u00ff".encode("latin-1"), b"\x80\xfe\xff" * 100],
    ids=["huge", "latin-1", "high-bytes"],
)
def test_a_hostile_session_id_is_a_pin_like_any_other(gateway: Proc, session: bytes) -> None:
    # Failed once on the first deployment: pinned to the second ...
    first = _raw(gateway, {"x-session-id": session, "x-mock-status": "500"})
    assert first.status_code == 200, first.text
    assert first.headers["x-turnout-deployment"] == "steady/s-second"
    # ... and kept there, though the first deployment is healthy again.
    again = _raw(gateway, {"x-session-id": session})
    assert again.status_code == 200, again.text
    assert again.headers["x-turnout-deployment"] == "steady/s-second"


def test_odd_prompt_cache_keys_never_fail_the_request(gateway: Proc) -> None:
    client = openai.OpenAI(api_key="k", base_url=gateway.url + "/v1", max_retries=0)
    for key in ("\U0001f600" * 20_000, "k" * 200_000, "\u202e\u0000\ufeff"):
        answer = client.chat.completions.create(
            model="pinned", messages=MESSAGES, max_tokens=2, extra_body={"prompt_cache_key": key}
        )
        assert answer.choices
    # Not a string: no pin from it, and still forwarded, not a 500.
    for odd in (12, ["a"], {"a": 1}, None):
        resp = _raw(gateway, {}, prompt_cache_key=odd)
        assert resp.status_code < 500, resp.text
