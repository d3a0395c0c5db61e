"""Objects of the shared provider account named by a request: files, vector stores, stored
prompts, Gemini cached contents and Files API URIs, Anthropic containers.

Every gateway key shares the provider account, and the gateway serves none of the APIs that
make these objects: one there was made outside the gateway, and before (2026-12-07) any key
that learnt its id had the account read it into its own answer. With gateway keys such a
request is now a 400 naming the field, before anything is sent; the master key (the operator)
and ``auth.account_objects: allow`` keep the old behaviour. The official SDKs are the clients.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gt

from tests.support.procs import Proc, rogue_gateway, rogue_requests

MASTER = "sy-master-account-objects-01"
ASK: Any = [{"role": "user", "content": "what does it say?"}]


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = rogue_gateway(rogue_server, tmp_path_factory.mktemp("objects"), MASTER)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def key(gateway: Proc) -> str:
    made = httpx.post(
        gateway.url + "/admin/keys", json={}, headers={"authorization": f"Bearer {MASTER}"}
    )
    assert made.status_code == 201, made.text
    secret: str = made.json()["key"]
    return secret


def _openai(gw: Proc, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def _chat_file(gw: Proc, key: str) -> Any:
    part = {"type": "file", "file": {"file_id": "file-someoneelses"}}
    messages: Any = [{"role": "user", "content": [part, {"type": "text", "text": "summarise"}]}]
    return _openai(gw, key).chat.completions.create(model="gpt-x", messages=messages)


def _responses_file(gw: Proc, key: str) -> Any:
    item: Any = {"role": "user", "content": [{"type": "input_file", "file_id": "file-x"}]}
    return _openai(gw, key).responses.create(model="gpt-x", input=[item])


def _file_search(gw: Proc, key: str) -> Any:
    tools: Any = [{"type": "file_search", "vector_store_ids": ["vs_someoneelses"]}]
    return _openai(gw, key).responses.create(model="gpt-x", input="find it", tools=tools)


def _stored_prompt(gw: Proc, key: str) -> Any:
    prompt: Any = {"id": "pmpt_someoneelses"}
    return _openai(gw, key).responses.create(model="gpt-x", prompt=prompt)


def _anthropic_file(gw: Proc, key: str) -> Any:
    doc = {"type": "document", "source": {"type": "file", "file_id": "file_someoneelses"}}
    messages: Any = [{"role": "user", "content": [doc, {"type": "text", "text": "summarise"}]}]
    client = anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)
    return client.messages.create(model="gpt-x", max_tokens=50, messages=messages)


def _anthropic_container(gw: Proc, key: str) -> Any:
    client = anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)
    return client.messages.create(
        model="gpt-x", max_tokens=50, messages=ASK, extra_body={"container": "container_x"}
    )


def _gemini(gw: Proc, key: str, **config: Any) -> Any:
    client = genai.Client(api_key=key, http_options=gt.HttpOptions(base_url=gw.url))
    return client.models.generate_content(
        model="gpt-x", contents="what does it say?", config=gt.GenerateContentConfig(**config)
    )


def _gemini_cached(gw: Proc, key: str) -> Any:
    return _gemini(gw, key, cached_content="cachedContents/someoneelses")


def _gemini_file(gw: Proc, key: str) -> Any:
    client = genai.Client(api_key=key, http_options=gt.HttpOptions(base_url=gw.url))
    uri = "https://generativelanguage.googleapis.com/v1beta/files/someoneelses"
    part = gt.Part(file_data=gt.FileData(file_uri=uri, mime_type="application/pdf"))
    contents: Any = [part, "summarise"]
    return client.models.generate_content(model="gpt-x", contents=contents)


CASES: dict[str, tuple[Callable[[Proc, str], Any], type[Exception], str]] = {
    "chat file": (_chat_file, openai.BadRequestError, "file_id"),
    "responses file": (_responses_file, openai.BadRequestError, "file_id"),
    "file search": (_file_search, openai.BadRequestError, "vector_store_ids"),
    "stored prompt": (_stored_prompt, openai.BadRequestError, "prompt"),
    "anthropic file": (_anthropic_file, anthropic.BadRequestError, "file_id"),
    "anthropic container": (_anthropic_container, anthropic.BadRequestError, "container"),
    "gemini cached content": (_gemini_cached, genai.errors.ClientError, "cachedContent"),
    "gemini files api": (_gemini_file, genai.errors.ClientError, "file_uri"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_key_cannot_name_the_shared_accounts_objects(
    gateway: Proc, rogue: Proc, key: str, case: str
) -> None:
    call, error, field = CASES[case]
    with pytest.raises(error) as info:
        call(gateway, key)
    assert field in str(info.value) and "provider account" in str(info.value)
    assert rogue_requests(rogue) == []  # refused before anything was sent


def test_the_operators_key_still_names_them(gateway: Proc, rogue: Proc) -> None:
    with contextlib.suppress(openai.APIError):  # the rogue's `{}` is no chat completion
        _chat_file(gateway, MASTER)
    [sent] = rogue_requests(rogue)
    assert "file-someoneelses" in sent["body_head"]


def test_public_addresses_and_prose_are_not_account_objects(
    gateway: Proc, rogue: Proc, key: str
) -> None:
    client = genai.Client(api_key=key, http_options=gt.HttpOptions(base_url=gateway.url))
    video = gt.Part(file_data=gt.FileData(file_uri="https://www.youtube.com/watch?v=x"))
    with pytest.raises(Exception):  # noqa: B017  the rogue's `{}` is no Gemini answer
        asked: Any = [video, "what happens?"]
        client.models.generate_content(model="gpt-x", contents=asked)
    prose = 'my "file_id" is not a field, nor is a \\u0066ile_id in text'
    _openai(gateway, key).chat.completions.create(
        model="gpt-x", messages=[{"role": "user", "content": prose}]
    )
    assert len(rogue_requests(rogue)) == 2
