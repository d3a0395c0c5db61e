"""The answer cache through real gateway processes, judged by the official SDKs.

One gateway per backend (memory, and the machine's Redis under a private key prefix), in front
of the session's mock provider, with one cached model per provider protocol. Every test asks a
question nobody asked before (a fresh nonce), so tests never see each other's answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gt

from tests.support.procs import Proc, free_port, mock_provider, start_gateway
from tests.support.wait import until
from tests.unit.cache.redis_support import shared_redis

HEADER = "x-turnout-cache"


def cache_config(mock: Proc, backend: str, **cache: Any) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"

    def native(kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "base_url": mock.url,
            "api_keys": ["sk-up"],
            "forward_headers": ["x-mock-*"],
        }

    return {
        "providers": {
            "oa": mock_provider(mock),
            "an": native("anthropic"),
            "gm": native("gemini"),
            "dead": {"type": "openai-compatible", "base_url": dead, "api_keys": ["sk-dead"]},
        },
        "models": {
            "c-openai": {"deployments": [{"provider": "oa", "model": "up"}], "cache": True},
            "c-anthropic": {"deployments": [{"provider": "an", "model": "up"}], "cache": True},
            "c-gemini": {"deployments": [{"provider": "gm", "model": "up"}], "cache": True},
            # An OpenAI client answered by an Anthropic provider: the translated stream is cached.
            "c-translated": {"deployments": [{"provider": "an", "model": "up"}], "cache": True},
            "c-short": {"deployments": [{"provider": "oa", "model": "up"}], "cache": 1},
            "c-primary": {
                "deployments": [{"provider": "dead"}],
                "fallbacks": ["c-backup"],
                "cache": True,
            },
            "c-backup": {"deployments": [{"provider": "oa", "model": "up"}]},
            "plain": {"deployments": [{"provider": "oa", "model": "up"}]},
            "c-embed": {"deployments": [{"provider": "oa", "model": "embed-up"}], "cache": True},
        },
        "routing": {"max_attempts": 1},
        "cache": {"backend": backend, **cache},
        "logging": {"requests": False},
    }


@pytest.fixture(scope="module", params=["memory", "redis"])
def gw(
    request: pytest.FixtureRequest, mock: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    extra: dict[str, Any] = {}
    if request.param == "redis":
        extra = {
            "redis_url": shared_redis(),
            "key_prefix": f"turnout-test:{uuid.uuid4().hex[:8]}:",
        }
    proc = start_gateway(
        cache_config(mock, request.param, **extra), tmp_path_factory.mktemp("cache")
    )
    yield proc
    httpx.delete(proc.url + "/admin/cache")
    proc.stop()


# Behaviour that does not depend on the backend is tested once, on the memory gateway.
MEMORY_ONLY = pytest.mark.parametrize("gw", ["memory"], indirect=True)


def nonce() -> str:
    return f"question {uuid.uuid4().hex}"


def oa(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="k", base_url=gw.url + "/v1", max_retries=0, _strict_response_validation=True
    )


def an(gw: Proc) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)


def gm(gw: Proc) -> genai.Client:
    return genai.Client(
        api_key="k", http_options=gt.HttpOptions(base_url=gw.url, api_version="v1beta")
    )


def settle(gw: Proc) -> None:
    """Answers are stored by a background worker just after they are sent: wait until it has
    stored or refused every answer sent so far (the stats' ``queued`` is then 0)."""
    until(lambda: httpx.get(gw.url + "/admin/cache/stats").json()["queued"] == 0)


# -- one question in each protocol, through its SDK, returning (cache header, answer id, text) --


def ask_openai(
    gw: Proc, q: str, stream: bool = False, model: str = "c-openai", **kw: Any
) -> tuple[str, str, str]:
    messages: Any = [{"role": "user", "content": q}]
    client = oa(gw)
    if not stream:
        raw = client.chat.completions.with_raw_response.create(model=model, messages=messages, **kw)
        done = raw.parse()
        return raw.headers.get(HEADER, ""), done.id, done.choices[0].message.content or ""
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=messages, stream=True, **kw
    )
    chunks = list(raw.parse())
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert sum(1 for c in chunks for ch in c.choices if ch.finish_reason) == 1
    text = "".join(ch.delta.content or "" for c in chunks for ch in c.choices)
    return raw.headers.get(HEADER, ""), chunks[0].id, text


def ask_anthropic(gw: Proc, q: str, stream: bool = False, **kw: Any) -> tuple[str, str, str]:
    args: Any = {
        "model": "c-anthropic",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": q}],
        **kw,
    }
    client = an(gw)
    if not stream:
        raw = client.messages.with_raw_response.create(**args)
        msg = raw.parse()
        headers = raw.headers
    else:
        with client.messages.stream(**args) as helper:
            msg = helper.get_final_message()
            headers = helper.response.headers
        assert headers["content-type"].startswith("text/event-stream")
    text = "".join(b.text for b in msg.content if b.type == "text")
    assert msg.stop_reason == "end_turn"
    return headers.get(HEADER, ""), msg.id, text


def ask_gemini(
    gw: Proc, q: str, stream: bool = False, headers: dict[str, str] | None = None
) -> tuple[str, str, str]:
    client = gm(gw)
    config = (
        gt.GenerateContentConfig(http_options=gt.HttpOptions(headers=headers)) if headers else None
    )
    if not stream:
        resp = client.models.generate_content(model="c-gemini", contents=q, config=config)
        responses = [resp]
    else:
        responses = list(
            client.models.generate_content_stream(model="c-gemini", contents=q, config=config)
        )
    first = responses[0]
    assert first.sdk_http_response is not None and first.sdk_http_response.headers is not None
    text = "".join(r.text or "" for r in responses)
    assert (
        responses[-1].candidates
        and responses[-1].candidates[0].finish_reason == gt.FinishReason.STOP
    )
    return first.sdk_http_response.headers.get(HEADER, ""), first.response_id or "", text


ASK: dict[str, Any] = {"openai": ask_openai, "anthropic": ask_anthropic, "gemini": ask_gemini}


@pytest.mark.parametrize("protocol", list(ASK))
def test_miss_then_hit(gw: Proc, protocol: str) -> None:
    q = nonce()
    state, first_id, text = ASK[protocol](gw, q)
    assert state == "miss" and text
    settle(gw)
    state, second_id, again = ASK[protocol](gw, q)
    assert (state, second_id, again) == ("hit", first_id, text)


@pytest.mark.parametrize("protocol", list(ASK))
@pytest.mark.parametrize(
    "first_stream", [True, False], ids=["stream-then-json", "json-then-stream"]
)
def test_one_answer_serves_both_forms(gw: Proc, protocol: str, first_stream: bool) -> None:
    q = nonce()
    state, first_id, text = ASK[protocol](gw, q, stream=first_stream)
    assert state == "miss"
    settle(gw)
    state, second_id, again = ASK[protocol](gw, q, stream=not first_stream)
    assert state == "hit"
    assert (second_id, again) == (first_id, text)
    settle(gw)
    state, _, same = ASK[protocol](gw, q, stream=first_stream)  # and the original form still
    assert (state, same) == ("hit", text)


def test_translated_answers_are_cached_in_the_clients_protocol(gw: Proc) -> None:
    q = nonce()
    assert ask_openai(gw, q, stream=True, model="c-translated")[0] == "miss"
    settle(gw)
    state, _, text = ask_openai(gw, q, stream=False, model="c-translated")
    assert state == "hit" and text


def test_openai_usage_chunk_follows_the_request_not_the_recording(gw: Proc) -> None:
    q = nonce()
    client = oa(gw)
    messages: Any = [{"role": "user", "content": q}]
    first = list(client.chat.completions.create(model="c-openai", messages=messages, stream=True))
    assert all(c.usage is None for c in first)
    settle(gw)
    raw = client.chat.completions.with_raw_response.create(
        model="c-openai", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(raw.parse())
    assert raw.headers[HEADER] == "hit"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


@MEMORY_ONLY
def test_key_order_does_not_matter(gw: Proc) -> None:
    q = nonce()
    one = (
        b'{"model":"c-openai","temperature":0,"messages":[{"role":"user","content":"%s"}]}'
        % q.encode()
    )
    two = (
        b'{"messages":[{"content":"%s","role":"user"}],"temperature":0.0,"model":"c-openai","user":"x"}'
        % q.encode()
    )
    h = {"content-type": "application/json"}
    r1 = httpx.post(gw.url + "/v1/chat/completions", content=one, headers=h)
    settle(gw)
    r2 = httpx.post(gw.url + "/v1/chat/completions", content=two, headers=h)
    assert (r1.headers[HEADER], r2.headers[HEADER]) == ("miss", "hit")
    assert r1.json()["id"] == r2.json()["id"]


@MEMORY_ONLY
@pytest.mark.parametrize("protocol", list(ASK))
def test_skip_and_refresh_controls(gw: Proc, protocol: str) -> None:
    q = nonce()

    def ask(control: dict[str, str] | None) -> tuple[str, str, str]:
        if protocol == "gemini":
            return ask_gemini(gw, q, headers=control)
        answer: tuple[str, str, str] = ASK[protocol](gw, q, extra_headers=control)
        return answer

    assert ask({"x-turnout-cache": "skip"})[0] == "bypass"
    settle(gw)
    assert ask(None)[0] == "miss"  # skip stored nothing
    settle(gw)
    _, cached_id, _ = ask(None)
    assert ask({"cache-control": "no-store"})[0] == "bypass"
    state, fresh_id, _ = ask({"x-turnout-cache": "refresh"})
    assert state == "miss" and fresh_id != cached_id
    settle(gw)
    state, served_id, _ = ask(None)
    assert (state, served_id) == ("hit", fresh_id)  # the refresh replaced the stored answer
    state, newer_id, _ = ask({"cache-control": "no-cache"})
    assert state == "miss" and newer_id != fresh_id


@MEMORY_ONLY
def test_unknown_control_value_is_a_client_error(gw: Proc) -> None:
    with pytest.raises(openai.BadRequestError, match="x-turnout-cache"):
        ask_openai(gw, nonce(), extra_headers={"x-turnout-cache": "maybe"})


def test_ttl_expiry(gw: Proc) -> None:
    q = nonce()
    assert ask_openai(gw, q, model="c-short")[0] == "miss"
    settle(gw)
    assert ask_openai(gw, q, model="c-short")[0] == "hit"
    until(lambda: ask_openai(gw, q, model="c-short")[0] == "miss")  # its 1 s TTL ran out


@MEMORY_ONLY
def test_errors_are_not_cached(gw: Proc) -> None:
    q = nonce()
    with pytest.raises(openai.InternalServerError):
        ask_openai(gw, q, extra_headers={"x-mock-status": "500"})
    settle(gw)
    assert ask_openai(gw, q)[0] == "miss"


@MEMORY_ONLY
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_truncated_streams_are_not_cached(gw: Proc, protocol: str) -> None:
    q = nonce()
    with pytest.raises((openai.APIError, anthropic.APIError, httpx.HTTPError)):
        ASK[protocol](gw, q, stream=True, extra_headers={"x-mock-fault": "truncate"})
    settle(gw)
    assert ASK[protocol](gw, q, stream=True)[0] == "miss"


@MEMORY_ONLY
def test_fallback_answers_are_not_stored_under_the_primary(gw: Proc) -> None:
    q = nonce()
    for _ in range(2):
        raw = oa(gw).chat.completions.with_raw_response.create(
            model="c-primary", messages=[{"role": "user", "content": q}]
        )
        assert raw.headers[HEADER] == "miss"
        assert raw.headers["x-turnout-deployment"] == "oa/up"  # the backup model answered
        settle(gw)


@MEMORY_ONLY
def test_uncached_models_carry_no_cache_header(gw: Proc) -> None:
    raw = oa(gw).chat.completions.with_raw_response.create(
        model="plain", messages=[{"role": "user", "content": nonce()}]
    )
    assert HEADER not in raw.headers


def test_purge_by_key_model_and_all_and_stats(gw: Proc) -> None:
    admin = httpx.Client(base_url=gw.url)
    questions = [nonce() for _ in range(3)]
    raw = oa(gw).chat.completions.with_raw_response.create(
        model="c-openai", messages=[{"role": "user", "content": questions[0]}]
    )
    key = raw.headers["x-turnout-cache-key"]
    for q in questions[1:]:
        ask_openai(gw, q)
    ask_anthropic(gw, questions[0])
    settle(gw)
    stats = admin.get("/admin/cache/stats").json()
    assert stats["enabled"] and stats["entries"] >= 4 and stats["bytes"] > 0
    assert stats["backend"] in ("memory", "redis")

    assert admin.delete("/admin/cache", params={"key": key}).json() == {"deleted": 1}
    assert ask_openai(gw, questions[0])[0] == "miss"
    assert ask_openai(gw, questions[1])[0] == "hit"
    settle(gw)
    assert admin.delete("/admin/cache", params={"model": "c-openai"}).json()["deleted"] >= 3
    assert ask_openai(gw, questions[1])[0] == "miss"
    assert ask_anthropic(gw, questions[0])[0] == "hit"  # another model's answers stay
    admin.delete("/admin/cache")
    assert admin.get("/admin/cache/stats").json()["entries"] == 0
    assert ask_anthropic(gw, questions[0])[0] == "miss"
    assert admin.delete("/admin/cache", params={"key": "not-a-key"}).status_code == 400

    stats = admin.get("/admin/cache/stats").json()
    assert stats["hits"] >= 2 and 0 < stats["hit_ratio"] < 1


def test_a_hit_never_waits_for_the_upstream(gw: Proc, mock: Proc) -> None:
    """A hit is answered from the cache alone: the (slow) upstream is not called at all."""

    def upstream_requests() -> int:
        return int(httpx.get(mock.url + "/_mock/stats").json()["requests"])

    q = nonce()
    body = orjson.dumps({"model": "c-openai", "messages": [{"role": "user", "content": q}]})
    slow = {"x-mock-ttft-ms": "50"}
    with httpx.Client(base_url=gw.url, headers={"content-type": "application/json"}) as client:
        before = upstream_requests()
        first = client.post("/v1/chat/completions", content=body, headers=slow)
        assert first.headers[HEADER] == "miss" and upstream_requests() == before + 1
        settle(gw)
        r = client.post("/v1/chat/completions", content=body, headers=slow)
    assert r.headers[HEADER] == "hit" and r.json()["id"] == first.json()["id"]
    assert upstream_requests() == before + 1


def test_embeddings_are_cached(gw: Proc) -> None:
    client, q = openai.OpenAI(api_key="k", base_url=gw.url + "/v1", max_retries=0), nonce()
    first = client.embeddings.with_raw_response.create(model="c-embed", input=q)
    settle(gw)
    second = client.embeddings.with_raw_response.create(model="c-embed", input=q)
    assert (first.headers[HEADER], second.headers[HEADER]) == ("miss", "hit")
    assert second.parse().data[0].embedding == first.parse().data[0].embedding


def _gemini_raw(gw: Proc, q: str, action: str, query: str = "") -> httpx.Response:
    body = {"contents": [{"role": "user", "parts": [{"text": q}]}]}
    url = f"{gw.url}/v1beta/models/c-gemini:{action}{query}"
    return httpx.post(url, json=body, headers={"x-goog-api-key": "k"})


def _sse_texts(raw: bytes) -> list[Any]:
    frames = [f for f in raw.split(b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n") if f]
    assert all(f.startswith(b"data: ") for f in frames), raw[:200]
    return [orjson.loads(f[6:]) for f in frames]


def _text(items: list[Any]) -> str:
    return "".join(p.get("text", "") for i in items for p in i["candidates"][0]["content"]["parts"])


@MEMORY_ONLY
def test_gemini_json_array_stream_and_sse_share_one_answer(gw: Proc) -> None:
    """google-genai always asks for SSE; REST clients without ``alt=sse`` get one JSON array."""
    q = nonce()
    first = _gemini_raw(gw, q, "streamGenerateContent")
    assert first.headers[HEADER] == "miss"
    array = first.json()
    assert isinstance(array, list) and array[-1]["candidates"][0]["finishReason"] == "STOP"
    settle(gw)
    sse = _gemini_raw(gw, q, "streamGenerateContent", "?alt=sse")
    assert sse.headers[HEADER] == "hit"
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert _text(_sse_texts(sse.content)) == _text(array)
    whole = _gemini_raw(gw, q, "generateContent")
    assert whole.headers[HEADER] == "hit" and _text([whole.json()]) == _text(array)

    q = nonce()
    assert _gemini_raw(gw, q, "streamGenerateContent", "?alt=sse").headers[HEADER] == "miss"
    settle(gw)
    again = _gemini_raw(gw, q, "streamGenerateContent")
    assert again.headers[HEADER] == "hit" and again.headers["content-type"].startswith(
        "application/json"
    )
    items = again.json()
    assert isinstance(items, list) and _text(items)
