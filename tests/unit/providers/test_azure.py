"""Azure OpenAI's provider type: URLs of both API surfaces, the api-key header, Entra ID tokens
(one fetch, reused, dropped on a 401), its options checked with the config, its error rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from tests.unit.providers.fakes import FakeClient, FakeResponse, call, deployment

from turnout.config.compile import ProviderSpec, compile_config
from turnout.config.validate import validate
from turnout.errors import UpstreamUnavailable
from turnout.providers.azure import AzureOptions, AzureProvider
from turnout.routing.classify import Classifier

pytestmark = pytest.mark.asyncio(loop_scope="function")

CHAT = {"model": "pub", "messages": [{"role": "user", "content": "hi"}]}
TOKEN = orjson.dumps({"access_token": "tok-1", "expires_in": 3599, "token_type": "Bearer"})


def spec(
    options: dict[str, Any] | None = None, keys: tuple[str, ...] = ("az-key",)
) -> ProviderSpec:
    return ProviderSpec(
        name="az",
        type="azure",
        base_url="https://res.openai.azure.com",
        api_keys=keys,
        headers=(),
        forward_headers=(),
        connect_timeout=1.0,
        read_timeout=1.0,
        total_timeout=10.0,
        options=AzureOptions.model_validate(options or {}),
    )


async def test_deployment_urls_and_the_api_key_header() -> None:
    client = FakeClient(FakeResponse(body=b"{}"))
    await AzureProvider(spec(), client).send(call("openai", CHAT), deployment("my dep"), "az-key")
    sent = client.sent[0]
    assert sent.url == (
        "https://res.openai.azure.com/openai/deployments/my%20dep/chat/completions"
        "?api-version=2024-10-21"
    )
    assert sent.header("api-key") == ["az-key"] and sent.header("authorization") == []


async def test_the_v1_surface_names_the_deployment_in_the_body() -> None:
    client = FakeClient(FakeResponse(body=b"{}"))
    provider = AzureProvider(spec({"api": "v1"}), client)
    await provider.send(call("openai", CHAT), deployment("dep"), "az-key")
    assert client.sent[0].url == "https://res.openai.azure.com/openai/v1/chat/completions"
    assert client.sent[0].json["model"] == "dep"


ENTRA = {"tenant_id": "t1", "client_id": "app", "client_secret": "s3cret"}


async def test_an_entra_token_is_fetched_once_and_dropped_after_a_401() -> None:
    client = FakeClient(
        FakeResponse(body=TOKEN),
        FakeResponse(body=b"{}"),
        FakeResponse(body=b"{}"),
        FakeResponse(status=401, body=b'{"error": {"code": "401"}}'),
        FakeResponse(body=TOKEN),
        FakeResponse(body=b"{}"),
    )
    provider = AzureProvider(spec({"entra": ENTRA}, keys=("",)), client)
    for _ in range(4):
        await provider.send(call("openai", CHAT), deployment("dep"), "")
    token_calls = [s for s in client.sent if s.url.endswith("/oauth2/v2.0/token")]
    assert [s.url for s in token_calls] == [
        "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
    ] * 2  # once, and once more after the 401
    form = token_calls[0].body.decode()
    assert "grant_type=client_credentials" in form and "client_secret=s3cret" in form
    assert "scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default" in form
    api = [s for s in client.sent if "/deployments/" in s.url]
    assert all(s.header("authorization") == ["Bearer tok-1"] for s in api)
    assert all(s.header("api-key") == [] for s in api)


async def test_a_pool_entry_is_a_client_secret_under_entra() -> None:
    client = FakeClient(FakeResponse(body=TOKEN), FakeResponse(body=b"{}"))
    provider = AzureProvider(spec({"entra": {**ENTRA, "client_secret": None}}), client)
    await provider.send(call("openai", CHAT), deployment("dep"), "rotated-secret")
    assert "client_secret=rotated-secret" in client.sent[0].body.decode()


async def test_a_refused_token_is_an_upstream_failure_naming_no_secret() -> None:
    refusal = {"error": "invalid_client", "error_description": "bad secret s3cret"}
    client = FakeClient(FakeResponse(status=401, body=orjson.dumps(refusal)))
    provider = AzureProvider(spec({"entra": ENTRA}, keys=("",)), client)
    with pytest.raises(UpstreamUnavailable) as caught:
        await provider.send(call("openai", CHAT), deployment("dep"), "")
    assert "invalid_client" in str(caught.value) and "s3cret" not in str(caught.value)


async def test_options_are_checked_with_the_config() -> None:
    raw: dict[str, Any] = {
        "providers": {
            "az": {
                "type": "azure",
                "base_url": "https://res.openai.azure.com",
                "options": {"api": "v2", "entra": {"tenant_id": "t"}, "region": "x"},
            },
            "oa": {"type": "openai", "api_keys": ["k"], "options": {"region": "x"}},
        }
    }
    _, problems = validate(raw)
    text = "\n".join(problems)
    assert "providers.az.options.api" in text
    assert "providers.az.options.entra.client_id" in text
    assert "providers.az.options.region: unknown option" in text
    assert "providers.oa.options: type openai takes no options" in text
    raw["providers"] = {"az": {"type": "azure", "base_url": "https://r.openai.azure.com",
                               "options": {"entra": ENTRA}}}  # fmt: skip
    config, problems = validate(raw)
    assert problems == [] and config is not None
    options = compile_config(config).providers["az"].options
    assert isinstance(options, AzureOptions) and options.entra is not None
    assert "s3cret" not in repr(options)  # a secret in options stays out of reprs


async def test_azure_errors_are_classified() -> None:
    classifier = Classifier.for_provider(replace(spec(), options=None))
    filtered = {"error": {"code": "content_filter", "innererror": {"code": "x"}}}
    assert classifier.classify(400, orjson.dumps(filtered)) == "content_filter"
    inner = {"error": {"code": "x", "innererror": {"code": "ResponsibleAIPolicyViolation"}}}
    assert classifier.classify(400, orjson.dumps(inner)) == "content_filter"
    missing = {"error": {"code": "DeploymentNotFound", "message": "..."}}
    assert classifier.classify(404, orjson.dumps(missing)) == "server_error"
    assert classifier.classify(401, b'{"error": {"code": "401"}}') == "invalid_key"
    assert classifier.classify(429, b'{"error": {"code": "429"}}') == "rate_limited"


FILTER_CHUNK = (
    b'data: {"choices": [], "created": 0, "id": "", "model": "", "object": "", '
    b'"prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}\n\n'
)
FIRST = b'data: {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0}]}\n\n'


@pytest.mark.parametrize("cut", [1, 10, len(FILTER_CHUNK), len(FILTER_CHUNK) + 5])
async def test_the_prompt_filter_chunk_is_left_out_wherever_reads_cut(cut: int) -> None:
    data = FILTER_CHUNK + FIRST + b"data: [DONE]\n\n"
    client = FakeClient(FakeResponse(chunks=[data[:cut], data[cut:]]))
    reply = await AzureProvider(spec(), client).send(
        call("openai", {**CHAT, "stream": True}, stream=True), deployment("d"), "az-key"
    )
    assert reply.chunks is not None
    assert b"".join([c async for c in reply.chunks]) == FIRST + b"data: [DONE]\n\n"


async def test_a_stream_without_a_filter_chunk_is_untouched() -> None:
    data = [FIRST, FIRST, b"data: [DONE]\n\n"]
    client = FakeClient(FakeResponse(chunks=data))
    reply = await AzureProvider(spec(), client).send(
        call("openai", {**CHAT, "stream": True}, stream=True), deployment("d"), "az-key"
    )
    assert reply.chunks is not None
    assert [c async for c in reply.chunks] == data


@pytest.mark.parametrize(
    ("operation", "data"),
    [
        ("speech", [b"ID3\x03", bytes(300), b"\xff\n\n" + bytes(10)]),
        ("images", [b"event: image_generation.partial_image\n", b"data: {}\n\n"]),
    ],
)
async def test_other_operations_streams_are_relayed_as_they_come(
    operation: str, data: list[bytes]
) -> None:
    """Only chat-like streams open with Azure's filter chunk: audio bytes or image events are
    never held back looking for it (the first bytes would wait for up to 64 KiB)."""
    client = FakeClient(FakeResponse(chunks=data))
    body = {"model": "pub", "input": "x", "voice": "alloy", "prompt": "x", "stream": True}
    reply = await AzureProvider(spec(), client).send(
        call("openai", body, operation=operation, stream=True), deployment("d"), "az-key"
    )
    assert reply.chunks is not None
    assert [c async for c in reply.chunks] == data


async def test_an_unquoted_api_version_is_the_version_string() -> None:
    import yaml

    raw = yaml.safe_load(
        "providers:\n  az:\n    type: azure\n    base_url: https://r.openai.azure.com\n"
        "    api_keys: [k]\n    options: {api_version: 2025-04-01-preview}\n"
        "  az2:\n    type: azure\n    base_url: https://r.openai.azure.com\n"
        "    api_keys: [k]\n    options: {api_version: 2024-10-21}\n"
    )
    config, problems = validate(raw)
    assert problems == [] and config is not None
    runtime = compile_config(config)
    assert runtime.providers["az2"].options.api_version == "2024-10-21"


class _CountingSearch:
    """The first-event pattern, counting the bytes each search looks at."""

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern
        self.scanned = 0

    def search(self, data: Any, pos: int = 0) -> Any:
        self.scanned += len(data) - pos
        return self.pattern.search(data, pos)


@pytest.mark.parametrize("first", [FILTER_CHUNK, b""])
async def test_a_first_event_sent_a_byte_at_a_time_is_scanned_once(
    first: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, each read re-copied and re-searched all it had: 64 KiB sent a byte at a time
    # was 18.5 s of the event loop's CPU. Now each byte is searched about once.
    from turnout.providers import azure

    counting = _CountingSearch(azure._BLANK)
    monkeypatch.setattr(azure, "_BLANK", counting)
    big = b'data: {"id": "' + b"x" * 20_000 + b'", "choices": []}\n\n'
    data = first + big + FIRST
    client = FakeClient(FakeResponse(chunks=[bytes([b]) for b in data]))
    reply = await AzureProvider(spec(), client).send(
        call("openai", {**CHAT, "stream": True}, stream=True), deployment("d"), "az-key"
    )
    assert reply.chunks is not None
    out = b"".join([c async for c in reply.chunks])
    assert out == data[len(first) :]
    assert counting.scanned <= 4 * len(data)


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        ("completions", "/completions"),
        ("images", "/images/generations"),
        ("speech", "/audio/speech"),
    ],
)
async def test_openais_other_operations_go_to_the_deployment(operation: str, path: str) -> None:
    client = FakeClient(FakeResponse(body=b"{}"))
    c = call("openai", {"model": "pub", "prompt": "hi"}, operation=operation)
    await AzureProvider(spec(), client).send(c, deployment("dep"), "az-key")
    assert client.sent[0].url == (
        f"https://res.openai.azure.com/openai/deployments/dep{path}?api-version=2024-10-21"
    )


async def test_azure_has_no_moderations() -> None:
    from turnout.errors import OperationUnsupported

    client = FakeClient(FakeResponse(body=b"{}"))
    c = call("openai", {"input": "hi"}, operation="moderations")
    with pytest.raises(OperationUnsupported, match="does not serve 'moderations'"):
        await AzureProvider(spec(), client).send(c, deployment("dep"), "az-key")
    assert client.sent == []


@pytest.mark.parametrize(
    ("operation", "path"),
    [("translations", "/audio/translations"), ("image_edits", "/images/edits")],
)
async def test_uploads_go_to_the_deployment_as_forms(operation: str, path: str) -> None:
    """The form is sent as it came, the model renamed in place, under the client's boundary."""
    kind = b"multipart/form-data; boundary=b0"
    body = (
        b'--b0\r\ncontent-disposition: form-data; name="model"\r\n\r\npub\r\n'
        b'--b0\r\ncontent-disposition: form-data; name="file"; filename="a"\r\n\r\n\x00\xff\r\n'
        b"--b0--\r\n"
    )
    c = replace(
        call("openai", {"model": "pub"}, operation=operation, headers={b"content-type": kind}),
        body=body,
    )
    client = FakeClient(FakeResponse(body=b"{}"))
    await AzureProvider(spec(), client).send(c, deployment("dep"), "az-key")
    sent = client.sent[0]
    assert sent.url == (
        f"https://res.openai.azure.com/openai/deployments/dep{path}?api-version=2024-10-21"
    )
    assert sent.body == body.replace(b"\r\n\r\npub\r\n", b"\r\n\r\ndep\r\n")
    assert sent.header("content-type") == ["multipart/form-data; boundary=b0"]


async def test_azure_has_no_image_variations() -> None:
    from turnout.errors import OperationUnsupported

    client = FakeClient(FakeResponse(body=b"{}"))
    kind = {b"content-type": b"multipart/form-data; boundary=b0"}
    form = b'--b0\r\ncontent-disposition: form-data; name="model"\r\n\r\npub\r\n--b0--\r\n'
    c = replace(
        call("openai", {"model": "pub"}, operation="image_variations", headers=kind), body=form
    )
    with pytest.raises(OperationUnsupported, match="does not serve 'image_variations'"):
        await AzureProvider(spec(), client).send(c, deployment("dep"), "az-key")
    assert client.sent == []
