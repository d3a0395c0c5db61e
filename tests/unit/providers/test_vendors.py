"""The named OpenAI-compatible vendors: each a provider type of its own, defined in one file
(providers/vendors.py) and one registration, read by the schema, compiler, classifier,
tracing and CLI from the registry."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from tests.unit.providers.fakes import FakeClient, FakeResponse, call, deployment

from turnout.cli.config_cmd import template
from turnout.config.compile import ProviderSpec, compile_config
from turnout.config.validate import validate
from turnout.errors import BadRequest
from turnout.observability.tracing import _otel_name
from turnout.providers.openai import OpenAIProvider
from turnout.providers.registry import names, provider_type
from turnout.routing.classify import Classifier

pytestmark = pytest.mark.asyncio(loop_scope="function")

VENDORS = {
    "openrouter": "https://openrouter.ai/api/v1",
    "groq": "https://api.groq.com/openai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "together": "https://api.together.xyz/v1",
}


def spec(kind: str, base_url: str | None = None) -> ProviderSpec:
    return ProviderSpec(
        name=f"my-{kind}",
        type=kind,
        base_url=base_url or VENDORS[kind],
        api_keys=("sk-up",),
        headers=(),
        forward_headers=(),
        connect_timeout=1.0,
        read_timeout=1.0,
        total_timeout=10.0,
    )


def classify(kind: str, status: int, body: dict[str, Any]) -> str:
    return Classifier.for_provider(spec(kind)).classify(status, orjson.dumps(body))


@pytest.mark.parametrize("kind", VENDORS)
async def test_a_key_is_all_a_config_needs(kind: str) -> None:
    raw = {
        "providers": {"v": {"type": kind, "api_keys": ["k"]}},
        "models": {"m": {"deployments": [{"provider": "v", "model": "x"}]}},
    }
    config, problems = validate(raw)
    assert problems == [] and config is not None
    runtime = compile_config(config)
    assert runtime.providers["v"].base_url == VENDORS[kind]
    kind_ = provider_type(kind)
    assert kind in names() and kind_.protocol == "openai" and kind_.provider is OpenAIProvider
    assert _otel_name(kind) == kind_.otel_name
    text = template("provider", kind)
    assert kind_.key_env is not None
    assert f"type: {kind}" in text and VENDORS[kind] in text and kind_.key_env in text


async def test_a_missing_key_and_a_misspelt_type_are_reported() -> None:
    _, problems = validate({"providers": {"v": {"type": "groq"}}})
    assert problems == ["providers.v.api_keys: at least one key is required"]
    _, problems = validate({"providers": {"v": {"type": "groqq", "api_keys": ["k"]}}})
    assert (
        len(problems) == 1
        and "unknown provider type 'groqq' (did you mean 'groq'?)" in (problems[0])
    )
    assert "openrouter" in problems[0]  # the known list comes from the registry


@pytest.mark.parametrize("kind", VENDORS)
async def test_requests_go_to_the_vendor_with_a_bearer_key(kind: str) -> None:
    client = FakeClient(FakeResponse(body=b'{"id": "x", "choices": []}'))
    provider = OpenAIProvider(spec(kind), client)
    c = call("openai", {"model": "pub", "messages": [{"role": "user", "content": "hi"}]})
    await provider.send(c, deployment(), "sk-vendor")
    sent = client.sent[0]
    assert sent.url == VENDORS[kind] + "/chat/completions"
    assert sent.header("authorization") == ["Bearer sk-vendor"]


@pytest.mark.parametrize(("kind", "serves"), [("groq", False), ("deepseek", False),
                                             ("mistral", True), ("together", True),
                                             ("openrouter", True)])  # fmt: skip
async def test_embeddings_only_where_the_vendor_serves_them(kind: str, serves: bool) -> None:
    client = FakeClient(FakeResponse(body=b'{"data": []}'))
    provider = OpenAIProvider(spec(kind), client)
    c = call("openai", {"model": "pub", "input": "hi"}, operation="embeddings")
    if serves:
        await provider.send(c, deployment(), "k")
        assert client.sent[0].url.endswith("/embeddings")
    else:
        with pytest.raises(BadRequest, match="does not serve 'embeddings'"):
            await provider.send(c, deployment(), "k")
        assert client.sent == []  # refused before anything left the gateway


async def test_openrouter_refusals_are_not_key_failures() -> None:
    flagged = {"error": {"code": 403, "message": "Input flagged", "metadata": {"reasons": ["x"]}}}
    assert classify("openrouter", 403, flagged) == "content_filter"
    guardrail = {"error": {"code": 403, "message": "blocked by your guardrail policy"}}
    assert classify("openrouter", 403, guardrail) == "bad_request"
    assert classify("openrouter", 402, {"error": {"code": 402, "message": "credits"}}) == (
        "no_quota"
    )
    long = {"error": {"code": 400, "message": "This endpoint's maximum context length is 8192"}}
    assert classify("openrouter", 400, long) == "context_length"


def generic(status: int, body: dict[str, Any]) -> str:
    plain = replace(spec("groq"), type="openai-compatible")
    return Classifier.for_provider(plain).classify(status, orjson.dumps(body))


@pytest.mark.parametrize(
    ("kind", "status", "body", "reason", "untyped"),
    [
        ("openrouter", 403, {"error": {"code": 403, "message": "flagged"}}, "content_filter",
         "invalid_key"),
        ("groq", 498, {"error": {"message": "flex capacity", "type": "capacity_exceeded"}},
         "overloaded", "bad_request"),
        ("groq", 413, {"error": {"message": "Request too large: TPM", "code":
         "rate_limit_exceeded"}}, "rate_limited", "bad_request"),
        ("groq", 400, {"error": {"message": "Please reduce the length of the messages"}},
         "context_length", "bad_request"),
        ("mistral", 400, {"object": "error", "message": "Prompt contains 40000 tokens, too large "
         "for model with 32768 maximum context length", "type": "invalid_request_error"},
         "context_length", "bad_request"),
        ("deepseek", 400, {"error": {"message": "This model's maximum context length is 65536 "
         "tokens. However, you requested 70000 tokens"}}, "context_length", "bad_request"),
        ("together", 400, {"error": {"message": "Input validation error: `inputs` tokens + "
         "`max_new_tokens` must be <= 8193"}}, "context_length", "bad_request"),
        ("deepseek", 402, {"error": {"message": "Insufficient Balance"}}, "no_quota", "no_quota"),
        ("mistral", 429, {"error": {"code": "insufficient_quota"}}, "no_quota", "no_quota"),
    ],
)  # fmt: skip
async def test_each_vendor_has_its_error_rules(
    kind: str, status: int, body: dict[str, Any], reason: str, untyped: str
) -> None:
    assert classify(kind, status, body) == reason
    assert generic(status, body) == untyped  # what openai-compatible would have decided


# Which vendor serves which of OpenAI's pass-through operations (their API references).
_SERVED = {
    "openrouter": {"completions"},
    "groq": {"speech"},
    "mistral": {"moderations"},
    "deepseek": set(),
    "together": {"completions", "images", "speech"},
}
_OPERATION_PATHS = {
    "completions": "/completions",
    "moderations": "/moderations",
    "images": "/images/generations",
    "speech": "/audio/speech",
}


@pytest.mark.parametrize("kind", VENDORS)
@pytest.mark.parametrize("operation", _OPERATION_PATHS)
async def test_pass_through_operations_only_where_the_vendor_serves_them(
    kind: str, operation: str
) -> None:
    client = FakeClient(FakeResponse(body=b"{}"))
    provider = OpenAIProvider(spec(kind), client)
    c = call("openai", {"model": "pub", "prompt": "hi", "input": "hi"}, operation=operation)
    if operation in _SERVED[kind]:
        await provider.send(c, deployment(), "k")
        assert client.sent[0].url == VENDORS[kind] + _OPERATION_PATHS[operation]
    else:
        with pytest.raises(BadRequest, match=f"does not serve '{operation}'"):
            await provider.send(c, deployment(), "k")
        assert client.sent == []


_SERVED_UPLOADS = {
    "openrouter": set(),
    "groq": {"transcriptions", "translations"},
    "mistral": {"transcriptions"},
    "deepseek": set(),
    "together": {"transcriptions"},
}
_UPLOAD_PATHS = {
    "transcriptions": "/audio/transcriptions",
    "translations": "/audio/translations",
    "image_edits": "/images/edits",
    "image_variations": "/images/variations",
}
_FORM = b'--b0\r\ncontent-disposition: form-data; name="model"\r\n\r\npub\r\n--b0--\r\n'


@pytest.mark.parametrize("kind", VENDORS)
@pytest.mark.parametrize("operation", _UPLOAD_PATHS)
async def test_uploads_only_where_the_vendor_serves_them(kind: str, operation: str) -> None:
    client = FakeClient(FakeResponse(body=b"{}"))
    provider = OpenAIProvider(spec(kind), client)
    headers = {b"content-type": b"multipart/form-data; boundary=b0"}
    c = replace(call("openai", {"model": "pub"}, operation=operation, headers=headers), body=_FORM)
    if operation in _SERVED_UPLOADS[kind]:
        await provider.send(c, deployment("up"), "k")
        assert client.sent[0].url == VENDORS[kind] + _UPLOAD_PATHS[operation]
        assert client.sent[0].body == _FORM.replace(b"pub", b"up")
    else:
        with pytest.raises(BadRequest, match=f"does not serve '{operation}'"):
            await provider.send(c, deployment("up"), "k")
        assert client.sent == []
