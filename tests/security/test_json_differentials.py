"""A body the gateway reads one way and an upstream another: a name given twice, a name spelt
with escapes.

orjson keeps the last value of a repeated name; an upstream may keep the first (simdjson's
lookups, some Java and Go decoders) or refuse it. Before (2026-12-07) the gateway checked the
last value and sent the client's bytes on: a key allowed only ``same`` sent ``{"model":
"gpt-4o", "model": "same"}`` and a first-wins upstream served ``gpt-4o``; an account object
(or a guardrail's word) hidden in the first ``messages`` passed the check made on the last;
``"stream": true, "stream": false`` was relayed as a whole body the upstream streamed. Now the
gateway sends what it parsed, re-encoded: whatever the upstream's rule for repeated names, it
reads what the gateway checked. The hostile upstream records the bytes it was sent.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.procs import Proc, rogue_providers, rogue_requests, start_gateway

MASTER = "sk-master-json-differentials-01"
HI = '[{"role":"user","content":"hi"}]'
HIDDEN_FILE = '[{"role":"user","content":[{"type":"file","file":{"file_id":"file-theirs"}}]}]'


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "storage": {"enabled": False},
        "providers": rogue_providers(rogue_server),
        "models": {
            "same": {"deployments": [{"provider": "up"}]},
            "gpt-*": {"deployments": [{"provider": "up"}]},
            "claude-ok": {"deployments": [{"provider": "ant"}]},
            "claude-*": {"deployments": [{"provider": "ant"}]},
            "gemini-renamed": {"deployments": [{"provider": "gem", "model": "gemini-flash-up"}]},
            "gemini-*": {"deployments": [{"provider": "gem"}]},
        },
    }
    tmp = tmp_path_factory.mktemp("json-differentials")
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def key(gateway: Proc) -> str:
    """A key that may use ``same``, ``claude-ok`` and Gemini models, nothing else."""
    made = httpx.post(
        gateway.url + "/admin/keys",
        json={"models": ["same", "claude-ok", "gemini-*"]},
        headers={"authorization": f"Bearer {MASTER}"},
    )
    assert made.status_code == 201, made.text
    secret: str = made.json()["key"]
    return secret


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"a name sent upstream twice: {names}"
    return dict(pairs)


def _sent(rogue: Proc) -> dict[str, Any]:
    """The one body the upstream got, read as a decoder that refuses repeated names would."""
    [request] = rogue_requests(rogue)
    raw = request["body_head"].encode("latin-1")  # recorded as latin-1 text
    body: dict[str, Any] = json.loads(raw, object_pairs_hook=_unique)
    return body


def _post(gateway: Proc, path: str, body: str, key: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    return httpx.post(gateway.url + path, content=body.encode(), headers=headers)


CHAT = "/v1/chat/completions"
BODIES = {
    "model twice": (CHAT, f'{{"model":"gpt-4o","model":"same","messages":{HI}}}'),
    "model in a nested duplicate": (
        CHAT,
        f'{{"model":"same","messages":{HI},"metadata":{{"a":"1","a":"2"}}}}',
    ),
    "messages twice": (CHAT, f'{{"model":"same","messages":{HIDDEN_FILE},"messages":{HI}}}'),
    "stream twice": (CHAT, f'{{"model":"same","stream":true,"stream":false,"messages":{HI}}}'),
    "escaped name": (CHAT, f'{{"mod\\u0065l":"same","m\\u0065ssages":{HI}}}'),
    "anthropic model twice": (
        "/v1/messages",
        f'{{"model":"claude-big","model":"claude-ok","max_tokens":5,"messages":{HI}}}',
    ),
    "gemini contents twice": (
        "/v1beta/models/gemini-x:generateContent",
        '{"contents":[{"parts":[{"fileData":{"fileUri":"gs://theirs/x"}}]}],'
        '"contents":[{"parts":[{"text":"hi"}]}]}',
    ),
}


@pytest.mark.parametrize("case", list(BODIES))
def test_the_upstream_reads_what_the_gateway_checked(
    gateway: Proc, rogue: Proc, key: str, case: str
) -> None:
    path, body = BODIES[case]
    answer = _post(gateway, path, body, key)
    assert answer.status_code == 200, answer.text
    sent = _sent(rogue)
    checked = json.loads(body)  # what a last-wins reader (the gateway) made of it
    if "model" in checked:
        assert sent["model"] == checked["model"]
    assert sent == checked
    assert "file-theirs" not in json.dumps(sent) and "gs://theirs" not in json.dumps(sent)


def test_what_the_sdks_send_still_goes_through(gateway: Proc, rogue: Proc, key: str) -> None:
    """Ordinary bodies: the same fields and values, whatever the SDK's spacing."""
    client = openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0)
    client.chat.completions.with_raw_response.create(
        model="same", messages=[{"role": "user", "content": 'héllo \u2028 "q"'}], temperature=0.5
    )
    assert _sent(rogue) == {
        "model": "same",
        "messages": [{"role": "user", "content": 'héllo \u2028 "q"'}],
        "temperature": 0.5,
    }
    ant = anthropic.Anthropic(api_key=key, base_url=gateway.url, max_retries=0)
    httpx.post(rogue.url + "/_rogue/reset")
    ant.messages.with_raw_response.create(
        model="claude-ok", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    assert _sent(rogue)["model"] == "claude-ok"


def test_a_model_the_key_may_not_use_is_refused_in_any_position(
    gateway: Proc, rogue: Proc, key: str
) -> None:
    body = f'{{"model":"same","model":"gpt-4o","messages":{HI}}}'
    assert _post(gateway, CHAT, body, key).status_code == 403
    assert rogue_requests(rogue) == []


def test_a_gemini_body_names_the_model_its_path_names(gateway: Proc, rogue: Proc, key: str) -> None:
    """A Gemini path names the model; a generation body may carry a ``model`` field too
    (``GenerateContentRequest.model``). Before, a renamed deployment's upstream got the path's
    model in the URL and the client's choice in the body; now the body is renamed as well."""
    from google import genai
    from google.genai import types as gt

    options = gt.HttpOptions(base_url=gateway.url, extra_body={"model": "models/gemini-ultra"})
    client = genai.Client(api_key=key, http_options=options)
    with contextlib.suppress(Exception):  # the rogue's `{}` is no Gemini answer
        client.models.generate_content(model="gemini-renamed", contents="hi")
    [request] = rogue_requests(rogue)
    assert "/models/gemini-flash-up:generateContent " in request["head"].split("\r\n")[0]
    assert _sent(rogue)["model"] == "models/gemini-flash-up"
