"""An upstream's redirect is never handed to the client.

The official SDKs follow redirects (httpx's ``follow_redirects=True``), and a relative
``Location`` is resolved against the gateway's address, where the client's key is sent again.
An upstream (or whoever answers on its address) that replied ``307 Location: /admin/...`` had
an admin's SDK re-send the call, its key attached, to any admin route of the gateway: a
confused deputy. A provider's redirect is also never something the client can act on (its
base URL is the gateway's), and the common cause is an operator's ``base_url`` on the wrong
scheme or host. So a 3xx is the upstream's failure: a 502 in the client's protocol, no
``Location``, and the next deployment is tried."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.support.procs import Proc, scripted_requests, start_gateway, start_scripted

MASTER = "redirect-master-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
CHAT = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "fine",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
STATUSES = (301, 302, 303, 307, 308)
ANSWERS: dict[str, dict[str, object]] = {
    f"gpt-{status}": {
        "status": status,
        # Our own admin route, with a query an admin route would act on.
        "type": "application/json\r\nlocation: /admin/keys?name=made-by-upstream",
        "chunks": ['{"name": "made-by-upstream"}'],
    }
    for status in STATUSES
}
ANSWERS["gpt-away"] = {
    "status": 308,
    "type": "application/json\r\nlocation: https://upstream.example/v1/chat/completions",
    "chunks": ["{}"],
}
ANSWERS["fine"] = {"type": "application/json", "chunks": [json.dumps(CHAT)]}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    tmp: Path = tmp_path_factory.mktemp("redirects")
    upstream = start_scripted(ANSWERS, tmp)
    base = upstream.url + "/v1"
    config = {
        "providers": {
            "up": {"type": "openai-compatible", "base_url": base, "api_keys": ["sk-up-0001"]},
            "spare": {"type": "openai-compatible", "base_url": base, "api_keys": ["sk-up-0002"]},
        },
        "models": {
            "gpt-*": {"deployments": [{"provider": "up"}]},
            # The first deployment redirects; the second answers.
            "moved": {
                "deployments": [
                    {"provider": "up", "model": "gpt-307", "priority": 1},
                    {"provider": "spare", "model": "fine", "priority": 2},
                ]
            },
        },
    }
    gw = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        yield gw, upstream
    finally:
        gw.stop()
        upstream.stop()


def _keys(gw: Proc) -> list[str]:
    listed = httpx.get(gw.url + "/admin/keys", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    return [k["name"] for k in listed.json()["keys"]]


@pytest.mark.parametrize("status", STATUSES)
def test_an_admins_sdk_is_not_sent_to_the_admin_api(
    gateway: tuple[Proc, Proc], status: int
) -> None:
    gw, _ = gateway
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(
            model=f"gpt-{status}", messages=[{"role": "user", "content": "hi"}]
        )
    answer = caught.value.response
    assert answer.status_code == 502
    assert "location" not in answer.headers
    assert answer.url.path == "/v1/chat/completions"  # not followed anywhere
    assert "redirect" in caught.value.message
    assert "made-by-upstream" not in _keys(gw)


def test_a_redirect_elsewhere_is_the_upstreams_failure_for_an_anthropic_client(
    gateway: tuple[Proc, Proc],
) -> None:
    gw, _ = gateway
    client = anthropic.Anthropic(api_key=MASTER, base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(
            model="gpt-away", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert "upstream.example" not in caught.value.response.text


def test_the_next_deployment_answers_after_a_redirect(gateway: tuple[Proc, Proc]) -> None:
    gw, upstream = gateway
    client = openai.OpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="moved", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().choices[0].message.content == "ok"
    assert "location" not in raw.headers
    asked = [r["model"] for r in scripted_requests(upstream)]
    assert asked[-2:] == ["gpt-307", "fine"]
