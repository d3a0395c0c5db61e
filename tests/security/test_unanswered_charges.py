"""A call sent upstream that ends without an answer still counts its prompt.

Once the upstream has the request, the provider may bill its prompt (and what it generated)
whatever the gateway then sees: its deadline firing, the connection dropped, the client
leaving. Before, such a call was logged without usage or cost and a
budget was charged nothing for it: a client could loop requests that time out on purpose (a
huge prompt, a model that is slow on it) against a budget that never moved. The model
``prompted`` costs $0.10 per input token and nothing for output, so what is charged is the
input part alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway, start_mock
from tests.support.request_log import request_line
from tests.support.wait import until

MASTER = "sk-master-unanswered-00001"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
PROMPTED = {"input": 100_000, "output": 0}  # USD per million tokens: $0.10 per input token


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    mock = start_mock()
    up = {"model": "up"}
    config = {
        "providers": {
            "oa": mock_provider(mock),
            "slow": mock_provider(mock, timeouts={"connect": 2, "read": 0.5}),
        },
        "models": {
            "prompted": {"deployments": [{"provider": "oa", **up}]},
            "prompted-slow": {"deployments": [{"provider": "slow", **up}]},
        },
        "pricing": {"models": {"prompted": PROMPTED, "prompted-slow": PROMPTED}},
        "routing": {"max_attempts": 1},
        "logging": {"requests": True},
    }
    tmp = Path(tmp_path_factory.mktemp("unanswered"))
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()
    mock.stop()


def _key(gateway: Proc) -> tuple[str, str]:
    body = {"name": "k", "budget": 1000, "budget_period": "day"}
    reply = httpx.post(gateway.url + "/admin/keys", headers=ADMIN, json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()["key"], reply.json()["id"]


def _settled(gateway: Proc, key_id: str) -> float:
    def spend() -> dict[str, Any]:
        shown = httpx.get(f"{gateway.url}/admin/keys/{key_id}", headers=ADMIN).json()
        return dict(shown["spend"])

    until(lambda: spend()["reserved"] == 0)
    return float(spend()["spent"])


def _ask(gateway: Proc, key: str, model: str, headers: dict[str, str], timeout: float) -> str:
    """One chat call through the OpenAI SDK that fails; its request id."""
    rid = f"unanswered-{uuid.uuid4().hex[:12]}"
    client = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=timeout
    )
    with pytest.raises(openai.APIError):
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "a long prompt " * 50}],
            max_tokens=100,
            extra_headers={"x-request-id": rid, **headers},
        )
    return rid


@pytest.mark.parametrize(
    ("model", "headers", "timeout", "status"),
    [
        ("prompted-slow", {"x-mock-fault": "hang"}, 30.0, 504),  # the upstream's deadline
        ("prompted", {"x-mock-fault": "disconnect"}, 30.0, 502),  # connection dropped
        ("prompted", {"x-mock-ttft-ms": "5000"}, 0.5, 499),  # the client left waiting
    ],
    ids=["timeout", "disconnect", "client-gone"],
)
def test_a_call_sent_upstream_without_an_answer_is_charged_its_prompt(
    gateway: Proc, model: str, headers: dict[str, str], timeout: float, status: int
) -> None:
    key, key_id = _key(gateway)
    line = request_line(gateway, _ask(gateway, key, model, headers, timeout))
    assert line["status"] == status
    assert line["input_tokens"] > 100 and line["output_tokens"] == 0  # the body's bytes / 4
    assert line["cost_usd"] == pytest.approx(line["input_tokens"] * 0.1)
    assert _settled(gateway, key_id) == pytest.approx(line["cost_usd"])


def test_an_upstream_refusal_is_charged_nothing(gateway: Proc) -> None:
    """An upstream that answers with an error status did not run the call: nothing to pay."""
    key, key_id = _key(gateway)
    line = request_line(gateway, _ask(gateway, key, "prompted", {"x-mock-status": "500"}, 30.0))
    assert line["status"] == 500 and line["input_tokens"] is None
    assert _settled(gateway, key_id) == 0
