"""Gateway keys through real gateway processes, judged by the official SDKs.

One gateway with a master key in front of the session's mock provider, with one model per
provider protocol; keys are made through the admin API. Every way a client presents a key is
tried with the SDK that uses it, and every refusal is checked in the SDK's own exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.support import rawhttp
from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

MASTER = "sy-master-test-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}


def tenancy_config(mock: Proc, **extra: Any) -> dict[str, Any]:
    def native(kind: str) -> dict[str, Any]:
        return {"type": kind, "base_url": mock.url, "api_keys": ["sk-up"]}

    return {
        "providers": {"oa": mock_provider(mock), "an": native("anthropic"), "gm": native("gemini")},
        "models": {
            "gpt-test": {"deployments": [{"provider": "oa", "model": "up"}]},
            "gpt-other": {"deployments": [{"provider": "oa", "model": "up"}]},
            "claude-test": {"deployments": [{"provider": "an", "model": "up"}]},
            "gemini-test": {"deployments": [{"provider": "gm", "model": "up"}]},
        },
        "routing": {"max_attempts": 1},
        "logging": {"requests": False},
        **extra,
    }


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("auth")
    proc = start_gateway(
        tenancy_config(mock, storage={"flush_interval": 0.05}),
        tmp,
        env={"TURNOUT_MASTER_KEY": MASTER},
    )
    yield proc
    proc.stop()


def admin(gw: Proc, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers=ADMIN, timeout=10, **kw)


def new_key(gw: Proc, **body: Any) -> tuple[str, str]:
    resp = admin(gw, "POST", "/admin/keys", json=body)
    assert resp.status_code == 201, resp.text
    data = resp.json()
    return data["key"], data["id"]


def oa(gw: Proc, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def an(gw: Proc, key: str, bearer: bool = False) -> anthropic.Anthropic:
    if bearer:
        return anthropic.Anthropic(auth_token=key, base_url=gw.url, max_retries=0)
    return anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)


def gm(gw: Proc, key: str) -> genai.Client:
    return genai.Client(
        api_key=key, http_options=gt.HttpOptions(base_url=gw.url, api_version="v1beta")
    )


def ask_openai(gw: Proc, key: str, model: str = "gpt-test") -> str:
    done = oa(gw, key).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    return done.choices[0].message.content or ""


def ask_anthropic(gw: Proc, key: str, bearer: bool = False) -> str:
    msg = an(gw, key, bearer).messages.create(
        model="claude-test", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    )
    return "".join(b.text for b in msg.content if b.type == "text")


def ask_gemini(gw: Proc, key: str) -> str:
    client = gm(gw, key)  # held: a collected client closes its connection pool
    return client.models.generate_content(model="gemini-test", contents="hi").text or ""


def ask_gemini_query(gw: Proc, key: str) -> str:
    """Gemini's REST style: the key in ``?key=`` (no SDK sends it that way)."""
    resp = httpx.post(
        f"{gw.url}/v1beta/models/gemini-test:generateContent",
        params={"key": key},
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    if resp.status_code != 200:
        raise PermissionError(resp.status_code, resp.text)
    text: str = resp.json()["candidates"][0]["content"]["parts"][0]["text"]
    return text


STYLES: dict[str, Callable[[Proc, str], str]] = {
    "openai-bearer": ask_openai,
    "anthropic-x-api-key": ask_anthropic,
    "anthropic-bearer": lambda gw, key: ask_anthropic(gw, key, bearer=True),
    "gemini-x-goog-api-key": ask_gemini,
    "gemini-query-key": ask_gemini_query,
}


def status_of(fn: Callable[[], Any]) -> int:
    """The HTTP status an SDK call failed with (0 if it succeeded)."""
    try:
        fn()
    except (openai.APIStatusError, anthropic.APIStatusError) as exc:
        return exc.status_code
    except genai_errors.APIError as exc:
        return int(exc.code)
    except PermissionError as exc:
        return int(exc.args[0])
    return 0


@pytest.mark.parametrize("style", list(STYLES))
def test_every_header_style_authenticates(gw: Proc, style: str) -> None:
    key, _ = new_key(gw)
    assert STYLES[style](gw, key)
    assert status_of(lambda: STYLES[style](gw, key + "x")) == 401


def test_rejections_in_each_sdk(gw: Proc) -> None:
    key, key_id = new_key(gw, models=["gpt-test", "claude-*"])
    assert status_of(lambda: ask_openai(gw, key, model="gpt-other")) == 403  # model not allowed
    assert status_of(lambda: ask_gemini(gw, key)) == 403
    assert ask_anthropic(gw, key)
    with pytest.raises(openai.AuthenticationError, match="Invalid API key"):
        ask_openai(gw, "sk-sy-not-a-key")
    with pytest.raises(anthropic.AuthenticationError):
        ask_anthropic(gw, "sk-sy-not-a-key")

    expiring, _ = new_key(gw, expires_in="1s")
    assert ask_openai(gw, expiring)
    until(lambda: status_of(lambda: ask_openai(gw, expiring)) == 401)  # its second ran out
    with pytest.raises(openai.AuthenticationError, match="expired"):
        ask_openai(gw, expiring)

    assert admin(gw, "POST", f"/admin/keys/{key_id}/revoke").json()["status"] == "revoked"
    with pytest.raises(openai.AuthenticationError):
        ask_openai(gw, key)  # at once on the replica that revoked it


def test_openai_sdk_reads_a_missing_key_error(gw: Proc) -> None:
    resp = httpx.post(gw.url + "/v1/chat/completions", json={"model": "gpt-test", "messages": []})
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "authentication_error"
    assert "Missing API key" in resp.json()["error"]["message"]


def test_admin_and_model_list_need_keys(gw: Proc) -> None:
    key, _ = new_key(gw)
    for path in ("/admin/config", "/admin/health", "/admin/keys", "/admin/usage"):
        assert httpx.get(gw.url + path).status_code == 401, path
        wrong = httpx.get(gw.url + path, headers={"authorization": "Bearer nope-nope-nope-nope"})
        assert wrong.status_code == 401
        # A gateway key is not an admin key: known, but not allowed.
        assert httpx.get(gw.url + path, headers={"x-api-key": key}).status_code == 403
        assert httpx.get(gw.url + path, headers=ADMIN).status_code == 200, path
    assert httpx.get(gw.url + "/v1/models").status_code == 401
    models = oa(gw, key).models.list()
    assert "gpt-test" in [m.id for m in models]
    assert httpx.get(gw.url + "/openapi.json").status_code == 200  # the docs hold no data


def test_each_sdk_lists_the_models_its_key_may_use(gw: Proc) -> None:
    """The model list in each SDK's own shape (OpenAI and Anthropic at /v1/models, told apart
    by the anthropic-version header; Gemini at /v1beta/models), filtered by the key's models."""
    key, _ = new_key(gw, models=["gpt-test", "claude-*", "gemini-*"])
    listed = sorted(m.id for m in oa(gw, key).models.list())
    assert listed == ["claude-test", "gemini-test", "gpt-test"]  # not gpt-other
    assert sorted(m.id for m in an(gw, key).models.list()) == listed
    client = gm(gw, key)  # kept: google-genai closes a client that is garbage collected
    names = sorted(m.name or "" for m in client.models.list())
    assert names == [f"models/{n}" for n in listed]
    everything, _ = new_key(gw)
    assert "gpt-other" in [m.id for m in oa(gw, everything).models.list()]
    assert httpx.get(gw.url + "/v1beta/models").status_code == 401


def test_an_unknown_model_names_only_the_models_the_key_may_use(gw: Proc) -> None:
    """The 404 for a model that is not served lists what the caller may use, like /v1/models:
    a key limited to some models must not learn the others' names from a typo."""
    key, _ = new_key(gw, models=["gpt-t*", "claude-*"])
    with pytest.raises(openai.NotFoundError) as caught:
        oa(gw, key).chat.completions.create(
            model="gpt-typo", messages=[{"role": "user", "content": "hi"}]
        )
    message = caught.value.message
    assert "gpt-test" in message and "claude-test" in message
    assert "gpt-other" not in message and "gemini-test" not in message
    everything, _ = new_key(gw)
    with pytest.raises(openai.NotFoundError) as caught:
        oa(gw, everything).chat.completions.create(
            model="gpt-typo", messages=[{"role": "user", "content": "hi"}]
        )
    assert "gpt-other" in caught.value.message and "gemini-test" in caught.value.message


def test_keys_listed_without_secrets(gw: Proc) -> None:
    key, key_id = new_key(gw, name="listed", metadata={"owner": "ops"})
    listing = admin(gw, "GET", "/admin/keys").text
    assert key_id in listing and key not in listing and key[12:] not in listing
    shown = admin(gw, "GET", f"/admin/keys/{key_id}").json()
    assert shown["prefix"] == key[:12] and shown["metadata"] == {"owner": "ops"}
    changed = admin(gw, "PATCH", f"/admin/keys/{key_id}", json={"rpm": 9, "name": "renamed"})
    assert changed.json()["rpm"] == 9 and changed.json()["name"] == "renamed"
    assert admin(gw, "GET", "/admin/keys/key_nope").status_code == 404
    bad = admin(gw, "POST", "/admin/keys", json={"team": "no-such-team"})
    assert bad.status_code == 400


def test_request_rows_carry_the_key_and_team(gw: Proc) -> None:
    assert admin(gw, "POST", "/admin/teams", json={"name": "rows", "models": ["gpt-*"]}).is_success
    key, key_id = new_key(gw, team="rows")
    ask_openai(gw, key)
    status_of(lambda: ask_anthropic(gw, key))  # refused by the team's models: logged too
    rows: list[dict[str, Any]] = []

    def logged() -> bool:
        rows[:] = admin(gw, "GET", f"/admin/logs?key={key_id}").json()["rows"]
        return len(rows) >= 2

    until(logged, 5)
    assert sorted(r["status"] for r in rows) == [200, 403]
    assert {(r["gateway_key"], r["team"]) for r in rows} == {(key_id, "rows")}
    by_team = admin(gw, "GET", "/admin/usage?group_by=team").json()["groups"]
    assert any(g["group"] == "rows" and g["requests"] == 2 for g in by_team)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/admin/keys", {"rpm": 10**30}),
        ("POST", "/admin/keys", {"tpm": 2**63}),
        ("POST", "/admin/keys", {"max_parallel": 2**64}),
        ("POST", "/admin/keys", {"model_limits": {"gpt-*": {"rpm": 10**30}}}),
        ("POST", "/admin/keys", {"metadata": {"n": 10**30}}),
        ("POST", "/admin/keys", {"expires_in": "99999999999999d"}),
        ("POST", "/admin/teams", {"name": "huge", "tpm": 10**30}),
        ("PATCH", "/admin/teams/huge", {"budget": 1e400}),
    ],
)
def test_numbers_the_store_cannot_hold_are_the_requests_fault(
    gw: Proc, method: str, path: str, body: dict[str, Any]
) -> None:
    """A limit, budget or metadata number beyond what the key store's JSON holds was a 503
    ("the key store is unavailable"): it is a validation error, and the store is fine."""
    if method == "PATCH":
        admin(gw, "POST", "/admin/teams", json={"name": "huge"})
    raw = json.dumps(body).replace("Infinity", "1e400")  # what a client sends for a huge budget
    headers = {**ADMIN, "content-type": "application/json"}
    resp = httpx.request(method, gw.url + path, content=raw, headers=headers, timeout=10)
    assert resp.status_code == 422, resp.text
    assert admin(gw, "GET", "/admin/keys").status_code == 200
    assert admin(gw, "GET", "/admin/logs", params={"status": str(10**20)}).status_code == 422


def test_admin_bodies_are_bounded_before_they_are_read(gw: Proc) -> None:
    """The admin API read any body whole before checking anything: an unauthenticated 200 MB
    POST was buffered (peak RSS 516 MB). A body over server.max_body_bytes is refused (413) as
    its head arrives, or as soon as a chunked one passes the limit."""
    huge = (
        "POST /admin/keys HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        f"Content-Length: {200 * 1024 * 1024}\r\n\r\n"
    ).encode()
    reply = rawhttp.request(gw.port, huge)  # the head alone: no body is ever sent
    assert reply is not None and reply.status == 413
    chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"  # 1 MiB chunks, 11 of them
    head = (
        b"POST /admin/keys HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    reply = rawhttp.request(gw.port, head + chunk * 11)
    assert reply is not None and reply.status == 413


@pytest.mark.parametrize("value", ['"\\ud800x"', "NaN", "Infinity", '{"a": -Infinity}'])
def test_admin_bodies_are_strict_json(gw: Proc, value: str) -> None:
    """What the standard library's parser accepts and the stores behind it refuse (a lone
    surrogate was a 503 from the key store and a 500 from a provider's name) is a 422."""
    for path, body in (
        ("/admin/keys", '{"name": %s}'),
        ("/admin/teams", '{"name": "strict", "metadata": {"a": %s}}'),
        ("/admin/providers", '{"name": %s, "type": "openai-compatible", "base_url": "x"}'),
    ):
        headers = {**ADMIN, "content-type": "application/json"}
        resp = httpx.post(gw.url + path, content=body % value, headers=headers, timeout=10)
        assert resp.status_code == 422, (path, resp.text)
        assert resp.json()["detail"][0]["type"] == "json_invalid"
    assert new_key(gw, name="still fine")[0].startswith("sk-")


def test_secrets_never_in_validation_errors(gw: Proc) -> None:
    resp = admin(gw, "POST", "/admin/credentials", json={"api_key": "sk-live-very-secret-0001"})
    assert resp.status_code == 422
    assert "sk-live-very-secret-0001" not in resp.text


def test_without_keys_or_master_key_the_gateway_is_open(mock: Proc, tmp_path: Path) -> None:
    proc = start_gateway(tenancy_config(mock), tmp_path)
    try:
        assert ask_openai(proc, "anything")  # auth is off: no key needed
        assert httpx.get(proc.url + "/admin/config").status_code == 200
        # Managing keys always needs a master key (or the CLI on the database).
        resp = httpx.post(proc.url + "/admin/keys", json={})
        assert resp.status_code == 403 and "master key" in resp.json()["detail"]
        assert "AUTHENTICATION IS OFF" in proc.output()
    finally:
        proc.stop()
