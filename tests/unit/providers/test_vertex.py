"""Vertex AI's provider type: the project's URLs for both publishers, Claude's body rewritten
(no model, anthropic_version) natively and after translation, the bearer token reused and
dropped after a 401, its options checked with the config."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.unit.providers.fakes import FakeClient, FakeResponse, call, deployment

from turnout.config.compile import ProviderSpec
from turnout.config.validate import validate
from turnout.providers.tokens import TokenCache
from turnout.providers.vertex import GLOBAL_HOST, VertexOptions, VertexProvider

pytestmark = pytest.mark.asyncio(loop_scope="function")

CLAUDE_BODY = {"model": "pub", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
OPENAI_BODY = {"model": "pub", "messages": [{"role": "user", "content": "hi"}]}


def provider(client: FakeClient, location: str = "us-east5", base_url: str = "{host}") -> Any:
    spec = ProviderSpec(
        name="vx",
        type="vertex",
        base_url=base_url,
        api_keys=("",),
        headers=(),
        forward_headers=(),
        connect_timeout=1.0,
        read_timeout=1.0,
        total_timeout=10.0,
        options=VertexOptions(project="proj", location=location),
    )
    fetched: list[str] = []

    async def fetch(credential: str) -> tuple[str, float]:
        fetched.append(credential)
        return f"tok-{len(fetched)}", 3600.0

    instance: Any = VertexProvider(spec, client)
    instance.tokens = instance.claude.tokens = TokenCache("vx", fetch)
    instance.fetched = fetched
    return instance


async def test_gemini_models_use_the_google_publisher_on_the_regional_host() -> None:
    client = FakeClient(FakeResponse(body=b"{}"), FakeResponse(chunks=[b"data: {}\r\n\r\n"]))
    vx = provider(client)
    await vx.send(call("gemini", GEMINI_BODY), deployment("gemini-2.5-flash"), "")
    await vx.send(call("gemini", GEMINI_BODY, stream=True), deployment("gemini-2.5-flash"), "")
    prefix = "https://us-east5-aiplatform.googleapis.com/v1/projects/proj/locations/us-east5"
    assert (
        client.sent[0].url == f"{prefix}/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert client.sent[1].url.endswith(":streamGenerateContent?alt=sse")
    assert client.sent[0].body == orjson.dumps(GEMINI_BODY)  # forwarded as received
    assert client.sent[0].header("authorization") == ["Bearer tok-1"]
    assert vx.fetched == [""]  # one token for both requests


async def test_the_global_location_uses_the_global_host() -> None:
    client = FakeClient(FakeResponse(body=b"{}"))
    await provider(client, "global").send(call("gemini", GEMINI_BODY), deployment("g"), "")
    assert client.sent[0].url.startswith(f"{GLOBAL_HOST}/v1/projects/proj/locations/global/")


async def test_claude_models_use_the_anthropic_publisher_and_its_body() -> None:
    client = FakeClient(FakeResponse(body=b"{}"), FakeResponse(chunks=[b"event: x\n\n"]))
    vx = provider(client)
    await vx.send(call("anthropic", CLAUDE_BODY), deployment("claude-sonnet-4-5"), "")
    streamed = {**CLAUDE_BODY, "stream": True}
    await vx.send(call("anthropic", streamed, stream=True), deployment("claude-sonnet-4-5"), "")
    first, second = client.sent
    assert first.url.endswith("/publishers/anthropic/models/claude-sonnet-4-5:rawPredict")
    assert second.url.endswith("/publishers/anthropic/models/claude-sonnet-4-5:streamRawPredict")
    assert "model" not in first.json and first.json["anthropic_version"] == "vertex-2023-10-16"
    assert second.json["stream"] is True
    assert first.header("x-api-key") == []  # no Anthropic key: the bearer token only


async def test_a_translated_call_to_claude_gets_the_vertex_body() -> None:
    reply = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1},
    }  # fmt: skip
    client = FakeClient(FakeResponse(body=orjson.dumps(reply)))
    out = await provider(client).send(call("openai", OPENAI_BODY), deployment("claude-x@2025"), "")
    assert out.status == 200 and out.body is not None
    assert orjson.loads(out.body)["choices"][0]["message"]["content"] == "hello"
    sent = client.sent[0]
    assert sent.url.endswith("/anthropic/models/claude-x@2025:rawPredict")
    assert "model" not in sent.json and sent.json["anthropic_version"] == "vertex-2023-10-16"


async def test_a_401_drops_the_token() -> None:
    client = FakeClient(
        FakeResponse(status=401, body=b'{"error": {"code": 401}}'), FakeResponse(body=b"{}")
    )
    vx = provider(client)
    await vx.send(call("gemini", GEMINI_BODY), deployment("g"), "")
    await vx.send(call("gemini", GEMINI_BODY), deployment("g"), "")
    assert [s.header("authorization") for s in client.sent] == [["Bearer tok-1"], ["Bearer tok-2"]]


async def test_options_are_required_and_checked() -> None:
    _, problems = validate({"providers": {"vx": {"type": "vertex"}}})
    assert any("providers.vx.options.project" in p for p in problems)
    raw = {"providers": {"vx": {"type": "vertex", "options": {"project": "a/b"}}}}
    _, problems = validate(raw)
    assert any("providers.vx.options.project" in p for p in problems)


async def test_the_default_host_follows_the_location() -> None:
    from turnout.config.compile import compile_config

    raw: dict[str, Any] = {"providers": {
        "east": {"type": "vertex", "options": {"project": "p", "location": "us-east5"}},
        "glob": {"type": "vertex", "options": {"project": "p", "location": "global"}},
        "br": {"type": "bedrock", "options": {"region": "eu-west-3"}},
    }}  # fmt: skip
    config, problems = validate(raw)
    assert problems == [] and config is not None
    specs = compile_config(config).providers
    assert specs["east"].base_url == "https://us-east5-aiplatform.googleapis.com"
    assert specs["glob"].base_url == GLOBAL_HOST
    assert specs["br"].base_url == "https://bedrock-runtime.eu-west-3.amazonaws.com"


async def test_an_unreadable_key_file_fails_the_attempt_naming_no_secret(tmp_path: Any) -> None:
    from turnout.errors import UpstreamUnavailable
    from turnout.providers.vertex import _Credentials

    bad = tmp_path / "sa.json"
    bad.write_text('{"type": "service_account", "private_key": "-----BEGIN secret-material"}')
    cache = TokenCache("vx", _Credentials(VertexOptions(project="p")).fetch)
    with pytest.raises(UpstreamUnavailable) as caught:
        await cache.get(str(bad))
    assert "provider vx: no access token" in str(caught.value)
    assert "secret-material" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [{"project": ".."}, {"project": "."}, {"project": "-p"}, {"project": "p", "location": ".."},
     {"project": "p", "location": "us.evil"}, {"project": "p", "location": "_x"}],
)  # fmt: skip
async def test_a_project_or_location_that_would_move_the_url_is_refused(
    options: dict[str, str],
) -> None:
    # ".." as the project would send /v1/projects/../locations/…, which a URL normaliser (or
    # the server) reads as /v1/locations/…; a location is part of the host's name.
    _, problems = validate({"providers": {"vx": {"type": "vertex", "options": options}}})
    assert any("providers.vx.options" in p for p in problems), problems


@pytest.mark.parametrize("token", ["tok\r\nx-evil: 1", "tok en", "", 12345, None, "é"])
async def test_a_token_that_is_not_one_is_the_endpoints_fault(token: Any) -> None:
    from turnout.errors import UpstreamUnavailable

    async def fetch(credential: str) -> tuple[str, float]:
        return token, 3600.0

    with pytest.raises(UpstreamUnavailable):
        await TokenCache("vx", fetch).get("")


@pytest.mark.parametrize("lifetime", [float("inf"), float("nan"), "3600", None])
async def test_a_lifetime_that_is_not_a_number_is_an_hour(lifetime: Any) -> None:
    now = [1000.0]

    async def fetch(credential: str) -> tuple[str, float]:
        return "tok-1", lifetime

    cache = TokenCache("vx", fetch, clock=lambda: now[0])
    assert await cache.get("") == "tok-1"
    assert cache._entries[""].expires == 1000.0 + 3600.0 - 300.0


async def test_waiters_share_a_failed_fetch_instead_of_each_fetching() -> None:
    import asyncio

    from turnout.errors import UpstreamUnavailable
    from turnout.providers.tokens import TokenError

    calls = 0
    release = asyncio.Event()

    async def fetch(credential: str) -> tuple[str, float]:
        nonlocal calls
        calls += 1
        await release.wait()  # a token endpoint that hangs until its timeout
        raise TokenError("token endpoint unreachable")

    cache = TokenCache("vx", fetch)
    waiting = [asyncio.create_task(cache.get("")) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, UpstreamUnavailable) for r in results)
    assert calls == 1  # ten before: the tenth request waited ten timeouts
    with pytest.raises(UpstreamUnavailable):
        await cache.get("")  # a later request tries again
    assert calls == 2
