"""With storage off, the conversation state of Responses answers is kept in memory, bounded
(``storage.responses_max_entries``, 256 MiB). One key making stored responses in a loop must
not push out another key's conversations: their follow-ups would be refused
(``previous_response_not_found``). Real gateway and mock provider, the OpenAI SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway

MASTER = "share-master-key-0123456789"
KEPT = "claude-kept"  # translated: the gateway keeps the conversation's items


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "storage": {"enabled": False, "responses_max_entries": 6},
        "providers": {"kept": {**mock_provider(mock), "type": "anthropic", "base_url": mock.url}},
        "models": {KEPT: {"deployments": [{"provider": "kept", "model": "claude-up"}]}},
    }
    proc = start_gateway(
        config, Path(tmp_path_factory.mktemp("share")), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def _client(gateway: Proc) -> openai.OpenAI:
    made = httpx.post(
        gateway.url + "/admin/keys", json={}, headers={"authorization": f"Bearer {MASTER}"}
    )
    assert made.status_code == 201, made.text
    return openai.OpenAI(api_key=made.json()["key"], base_url=gateway.url + "/v1", max_retries=0)


def test_a_key_storing_in_a_loop_pushes_out_only_its_own_conversations(gateway: Proc) -> None:
    """Before: the oldest records left first whoever held them."""
    alice, bob = _client(gateway), _client(gateway)
    first = alice.responses.create(model=KEPT, input="remember the plan").id
    floods = [bob.responses.create(model=KEPT, input=f"noise {i}").id for i in range(12)]
    again = alice.responses.create(model=KEPT, previous_response_id=first, input="and then?")
    assert again.id and again.previous_response_id == first
    assert bob.responses.create(model=KEPT, previous_response_id=floods[-1], input="x").id
    with pytest.raises(openai.BadRequestError) as gone:  # bob's oldest made room
        bob.responses.create(model=KEPT, previous_response_id=floods[0], input="x")
    assert gone.value.code == "previous_response_not_found"
