"""One request, two keys: a credential header twice, or ``?key=`` twice, with different values.

The gateway reads a request's headers into a dict that keeps the last line; a proxy in front
(an API manager checking keys or counting per key, a WAF) commonly reads the first. Before
(2026-12-07) a request carrying ``Authorization: Bearer <A>`` then ``Authorization: Bearer <B>``
was served as B, whatever a proxy had checked or counted as A, and Gemini's ``?key=A&key=B``
as A. Now, with authentication on, each is a 401 in the path's protocol before anything is
read or sent. The same key twice, and the SDKs' usual requests, are served as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support.procs import Proc, rogue_providers, rogue_requests, start_gateway

MASTER = "sk-master-two-keys-000001"
AUTH = "authorization"
CHAT = ("/v1/chat/completions", {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]})
MESSAGES = (
    "/v1/messages",
    {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
)
GEMINI = ("/v1beta/models/gemini-x:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]})


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "storage": {"enabled": False},
        "providers": rogue_providers(rogue_server),
        "models": {
            "gpt-*": {"deployments": [{"provider": "up"}]},
            "claude-*": {"deployments": [{"provider": "ant"}]},
            "gemini-*": {"deployments": [{"provider": "gem"}]},
        },
    }
    tmp = tmp_path_factory.mktemp("two-keys")
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def keys(gateway: Proc) -> tuple[str, str]:
    made = [
        httpx.post(
            gateway.url + "/admin/keys", json={}, headers={"authorization": f"Bearer {MASTER}"}
        ).json()["key"]
        for _ in range(2)
    ]
    return made[0], made[1]


def _post(
    gateway: Proc, route: tuple[str, object], headers: list[tuple[str, str]], query: str = ""
) -> httpx.Response:
    path, body = route
    return httpx.post(gateway.url + path + query, json=body, headers=headers)


def _cases(a: str, b: str) -> dict[str, tuple[tuple[str, object], list[tuple[str, str]], str]]:
    return {
        "two bearer lines": (CHAT, [(AUTH, f"Bearer {a}"), (AUTH, f"Bearer {b}")], ""),
        "two x-api-key lines": (MESSAGES, [("x-api-key", a), ("x-api-key", b)], ""),
        "two x-goog-api-key lines": (GEMINI, [("x-goog-api-key", a), ("x-goog-api-key", b)], ""),
        "?key= twice": (GEMINI, [], f"?key={a}&key={b}"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case", ["two bearer lines", "two x-api-key lines", "two x-goog-api-key lines", "?key= twice"]
)
def test_two_different_keys_are_refused(
    gateway: Proc, rogue: Proc, keys: tuple[str, str], case: str
) -> None:
    a, b = keys
    route, headers, query = _cases(a, b)[case]
    answer = _post(gateway, route, headers, query)
    assert answer.status_code == 401, answer.text
    assert "Two different API keys" in answer.text and a not in answer.text
    assert answer.headers["x-should-retry"] == "false"
    assert rogue_requests(rogue) == []
    # The same key twice names one caller: served.
    route, headers, query = _cases(a, a)[case]
    assert _post(gateway, route, headers, query).status_code == 200


def test_the_model_list_and_the_admin_api_refuse_them_too(
    gateway: Proc, keys: tuple[str, str]
) -> None:
    a, b = keys
    two = [("authorization", f"Bearer {a}"), ("authorization", f"Bearer {b}")]
    assert httpx.get(gateway.url + "/v1/models", headers=two).status_code == 401
    admin = [("authorization", f"Bearer {MASTER}"), ("authorization", f"Bearer {b}")]
    assert httpx.get(gateway.url + "/admin/keys", headers=admin).status_code == 401
    assert httpx.get(gateway.url + "/admin/health", headers=admin).status_code == 401


def test_an_sdk_that_sends_one_key_is_served(gateway: Proc, keys: tuple[str, str]) -> None:
    client = openai.OpenAI(api_key=keys[0], base_url=gateway.url + "/v1", max_retries=0)
    assert client.chat.completions.with_raw_response.create(
        model="gpt-x", messages=[{"role": "user", "content": "hi"}]
    ).http_response.is_success
