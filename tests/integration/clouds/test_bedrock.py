"""AWS Bedrock as an upstream, in real processes: the mock plays Bedrock (InvokeModel and its
event stream, Bedrock's error shapes) and checks each request's SigV4 signature with botocore
and its own copy of the secret, so a wrong secret fails; the official SDKs judge the gateway.

boto3's own ``bedrock-runtime`` client is pointed at the mock first, to confirm that the mock
speaks (and verifies) the real wire format. The issue's goal is the last group: ``claude-*`` on
Bedrock with Vertex AI as failover, from config alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import boto3
import httpx
import openai
import pytest
import yaml
from botocore.exceptions import ClientError
from google import genai
from google.genai import types

from tests.support.clouds import (
    AWS_KEY_ID,
    AWS_SECRET,
    EMAIL,
    PROJECT,
    Cloud,
    account_file,
    assert_tool_call_streamed,
    public_pem,
    rsa_key,
    start_cloud_mock,
)
from tests.support.procs import PYTHON, Proc, start_gateway

MESSAGES: Any = [{"role": "user", "content": "hi"}]
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
LLAMA = "us.meta.llama3-3-70b-instruct-v1:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + PROFILE
WEATHER: Any = {
    "name": "get_weather",
    "description": "weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    tmp = tmp_path_factory.mktemp("bedrock")
    key = rsa_key()
    aws = {"access_key_id": AWS_KEY_ID, "secret_access_key": AWS_SECRET}
    google = {"client_email": EMAIL, "public_key": public_pem(key)}
    proc = start_cloud_mock(tmp, {"aws": aws, "google": google})
    account = account_file(tmp / "sa.json", key, f"{proc.url}/token")
    yield Cloud(proc, account)
    proc.stop()


def _vertex(cloud: Cloud) -> dict[str, Any]:
    """Vertex AI on the same mock, the failover of Bedrock's Claude."""
    return {
        "type": "vertex",
        "base_url": cloud.url,
        "api_keys": [str(cloud.account)],
        "options": {"project": PROJECT, "location": "us-east5"},
    }


@pytest.fixture(scope="module")
def gw(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("bedrock-gw")
    base = {"type": "bedrock", "base_url": cloud.url, "forward_headers": ["x-mock-*"]}
    region = {"region": "us-east-1"}
    config = {
        "routing": {"backoff": {"base": 0, "max": 0}},
        "providers": {
            "bedrock": {**base, "api_keys": [f"{AWS_KEY_ID}:{AWS_SECRET}"], "options": region},
            "bedrock-chain": {**base, "options": region},  # the AWS chain: the environment
            "bedrock-wrong": {**base, "api_keys": [f"{AWS_KEY_ID}:wrong"], "options": region},
            "vertex": _vertex(cloud),
        },
        "models": {
            "claude-*": {
                "deployments": [
                    {"provider": "bedrock", "model": PROFILE, "priority": 0},
                    {"provider": "vertex", "model": "claude-sonnet-4-5@20250929", "priority": 1},
                ]
            },
            "chain": {"deployments": [{"provider": "bedrock-chain", "model": MODEL}]},
            "arn": {"deployments": [{"provider": "bedrock", "model": ARN}]},
            "wrong": {
                "deployments": [
                    {"provider": "bedrock-wrong", "model": MODEL, "priority": 0},
                    {"provider": "vertex", "model": "claude-sonnet-4-5@20250929", "priority": 1},
                ]
            },
            "alone": {"deployments": [{"provider": "bedrock", "model": MODEL}]},
            "llama": {"deployments": [{"provider": "bedrock", "model": LLAMA}]},
        },
    }
    env = {"AWS_ACCESS_KEY_ID": AWS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET}
    proc = start_gateway(config, tmp, env=env, ready_within=60)
    yield proc
    proc.stop()


def _runtime(cloud: Cloud, secret: str = AWS_SECRET) -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=cloud.url,
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=secret,
    )


def _body(**extra: Any) -> str:
    return json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32, "messages": MESSAGES, **extra}
    )


# -- the mock is Bedrock: boto3 talks to it -------------------------------------------------------
def test_boto3_invoke_model_speaks_to_the_mock(cloud: Cloud) -> None:
    runtime = _runtime(cloud)
    reply = json.loads(runtime.invoke_model(modelId=PROFILE, body=_body())["body"].read())
    assert reply["type"] == "message" and reply["content"][0]["type"] == "text"
    stream = runtime.invoke_model_with_response_stream(modelId=ARN, body=_body())["body"]
    events = [json.loads(e["chunk"]["bytes"]) for e in stream if "chunk" in e]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"


def test_boto3_with_a_wrong_secret_is_refused(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as caught:
        _runtime(cloud, "not-the-secret").invoke_model(modelId=MODEL, body=_body())
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_boto3_sees_throttling(cloud: Cloud) -> None:
    runtime = _runtime(cloud)
    runtime.meta.events.register(
        "before-sign.bedrock-runtime.InvokeModel",
        lambda request, **_: request.headers.__setitem__("x-mock-status", "429"),
    )
    with pytest.raises(ClientError) as caught:
        runtime.invoke_model(modelId=MODEL, body=_body())
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"


def test_boto3_converse_speaks_to_the_mock(cloud: Cloud) -> None:
    runtime = _runtime(cloud)
    messages: Any = [{"role": "user", "content": [{"text": "hi"}]}]
    reply = runtime.converse(modelId=LLAMA, messages=messages, inferenceConfig={"maxTokens": 16})
    assert reply["output"]["message"]["content"][0]["text"]
    assert reply["stopReason"] == "end_turn" and reply["usage"]["outputTokens"] > 0
    tools: Any = {
        "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {}}}}],
        "toolChoice": {"any": {}},
    }
    stream = runtime.converse_stream(modelId=LLAMA, messages=messages, toolConfig=tools)
    events = list(stream["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    starts = [
        e["contentBlockStart"]["start"]["toolUse"] for e in events if "contentBlockStart" in e
    ]
    assert starts and starts[0]["name"] == "get_weather"
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"


# -- through the gateway ---------------------------------------------------------------------------
def _claude(gw: Proc) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)


def _openai(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=f"{gw.url}/v1", max_retries=0)


def test_anthropic_client_reaches_claude_on_bedrock(gw: Proc) -> None:
    raw = _claude(gw).messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=32, messages=MESSAGES
    )
    assert raw.headers["x-turnout-deployment"] == f"bedrock/{PROFILE}"
    reply = raw.parse()
    assert reply.content[0].type == "text" and reply.usage.output_tokens > 0


def test_anthropic_stream_with_a_tool_call(gw: Proc) -> None:
    with _claude(gw).messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=64,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Call get_weather for Paris"}],
    ) as stream:
        final = stream.get_final_message()
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert final.stop_reason == "tool_use"
    assert any(b.type == "tool_use" and b.name == "get_weather" for b in final.content)


def test_openai_client_is_translated_to_bedrock(gw: Proc) -> None:
    tool: Any = {"type": "function", "function": {**WEATHER, "parameters": WEATHER["input_schema"]}}
    tool["function"].pop("input_schema")
    stream = _openai(gw).chat.completions.create(
        model="alone",
        messages=[{"role": "user", "content": "Call get_weather for Paris"}],
        tools=[tool],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert_tool_call_streamed(chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    reply = _openai(gw).chat.completions.create(model="alone", messages=MESSAGES)
    assert reply.choices[0].message.content


def test_gemini_client_is_translated_to_bedrock(gw: Proc) -> None:
    client = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{gw.url}/", api_version="v1beta")
    )
    stream = client.models.generate_content_stream(model="alone", contents="hi")
    assert "".join(c.text or "" for c in stream)


def test_the_default_credential_chain_signs(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(model="chain", messages=MESSAGES)
    assert raw.headers["x-turnout-deployment"] == f"bedrock-chain/{MODEL}"


def test_an_inference_profile_arn_is_one_path_segment(gw: Proc) -> None:
    raw = _claude(gw).messages.with_raw_response.create(
        model="arn", max_tokens=16, messages=MESSAGES
    )
    assert raw.headers["x-mock-request-model"] == ARN


def test_a_wrong_secret_fails_over_to_vertex(gw: Proc) -> None:
    raw = _claude(gw).messages.with_raw_response.create(
        model="wrong", max_tokens=16, messages=MESSAGES
    )
    assert raw.headers["x-turnout-deployment"] == "vertex/claude-sonnet-4-5@20250929"


def test_bedrock_throttling_fails_over_to_vertex(gw: Proc) -> None:
    raw = _claude(gw).messages.with_raw_response.create(
        model="claude-sonnet-4-5",
        max_tokens=16,
        messages=MESSAGES,
        extra_headers={"x-mock-status": "429"},
    )
    # Vertex answers too: the header reaches it as well, so it is rate limited there, or not
    # (the gateway forwards x-mock-* only to bedrock): either way bedrock did not answer.
    assert raw.headers["x-turnout-deployment"] == "vertex/claude-sonnet-4-5@20250929"


def test_a_bedrock_error_reaches_an_anthropic_client_in_its_shape(gw: Proc) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        _claude(gw).messages.create(
            model="alone", max_tokens=16, messages=MESSAGES, extra_headers={"x-mock-status": "400"}
        )
    body: Any = caught.value.body
    assert body["type"] == "error" and body["error"]["bedrock_error_type"] == "ValidationException"


def _read_stream_with(gw: Proc, fault: str) -> None:
    """Read a whole Anthropic stream whose upstream stream the mock breaks with ``fault``."""
    with _claude(gw).messages.stream(
        model="alone", max_tokens=32, messages=MESSAGES, extra_headers={"x-mock-fault": fault}
    ) as stream:
        for _ in stream.text_stream:
            pass


def test_an_error_mid_stream_is_the_clients_error_event(gw: Proc) -> None:
    with pytest.raises(anthropic.APIStatusError):
        _read_stream_with(gw, "error-midstream")


def test_a_corrupt_event_stream_is_the_upstreams_fault(gw: Proc) -> None:
    with pytest.raises((anthropic.APIError, httpx.HTTPError)):
        _read_stream_with(gw, "malformed")


def test_clients_reach_a_converse_model(gw: Proc) -> None:
    raw = _openai(gw).chat.completions.with_raw_response.create(model="llama", messages=MESSAGES)
    assert raw.headers["x-mock-request-model"] == LLAMA
    reply = raw.parse()
    assert reply.choices[0].message.content and reply.usage is not None
    assert reply.usage.prompt_tokens > 0
    with _claude(gw).messages.stream(
        model="llama",
        max_tokens=64,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Call get_weather for Paris"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use" and final.usage.output_tokens > 0
    assert any(b.type == "tool_use" and b.name == "get_weather" for b in final.content)
    client = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{gw.url}/", api_version="v1beta")
    )
    assert client.models.generate_content(model="llama", contents="hi").text


def test_the_health_keeper_probes_cloud_keys(cloud: Cloud, tmp_path: Path) -> None:
    """``turnout worker --once``: each credential of a Bedrock pool is probed with a signed
    one-token request (the wrong secret is found invalid), Vertex through its token."""
    import os
    import subprocess

    config = {
        "providers": {
            "bedrock": {
                "type": "bedrock",
                "base_url": cloud.url,
                "api_keys": [f"{AWS_KEY_ID}:{AWS_SECRET}", f"{AWS_KEY_ID}:wrong-secret"],
                "options": {"region": "us-east-1"},
            },
            "vertex": _vertex(cloud),
        },
        "models": {
            "claude": {"deployments": [{"provider": "bedrock", "model": PROFILE}]},
            "llama": {"deployments": [{"provider": "bedrock", "model": LLAMA}]},
            "gemini": {"deployments": [{"provider": "vertex", "model": "gemini-2.5-flash"}]},
        },
        "storage": {"enabled": False},
    }
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run(
        [PYTHON, "-m", "turnout.cli.main", "worker", "--once", "-c", str(path)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr  # one key is invalid
    rows = [line for line in out.stdout.splitlines() if "│" in line and "ms" not in line]
    assert sum("invalid_key" in r for r in rows) == 2, out.stdout  # the wrong key, both models
    assert sum(" ok " in r or "│ ok" in r for r in rows) == 3, out.stdout
    assert "wrong-secret" not in out.stdout + out.stderr


def test_the_responses_api_reaches_bedrock(gw: Proc) -> None:
    reply = _openai(gw).responses.create(model="alone", input="hi")
    assert reply.output_text
    events = list(_openai(gw).responses.create(model="llama", input="hi", stream=True))
    assert events[-1].type == "response.completed"


def test_token_counts_are_estimated(gw: Proc) -> None:
    raw = _claude(gw).messages.with_raw_response.count_tokens(model="alone", messages=MESSAGES)
    assert raw.headers["x-turnout-token-count"] == "estimated"
    assert raw.parse().input_tokens > 0
    client = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{gw.url}/", api_version="v1beta")
    )
    assert (client.models.count_tokens(model="llama", contents="hi").total_tokens or 0) > 0
