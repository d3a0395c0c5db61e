"""An upstream's error body of odd types on a translated route: the client gets its own
protocol's error shape, every field its SDK reads of the type that SDK expects.

Before: an OpenAI-family upstream's ``param`` went through as it came (an object or a boolean
in a Chat Completions or Responses client's error). The gateway and its scripted upstream are
tests/security/answers.py's.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.security.answers import PAIRS, error_shape, header, request
from tests.support.procs import Proc


@pytest.fixture
def gateway(answers_gateway: Proc) -> Proc:
    return answers_gateway


# Error bodies of each upstream protocol whose fields hold every JSON type but the right one.
_ODD = [{"a": 1}, [1, 2], 5, True, None]


def _odd_errors(upstream: str) -> list[Any]:
    out: list[Any] = []
    for value in _ODD:
        if upstream == "messages":
            out.append({"type": "error", "error": {"type": value, "message": value}})
        elif upstream == "gemini":
            out.append({"error": {"code": value, "message": value, "status": value}})
        else:
            fields = ("message", "type", "code", "param")
            out.append({"error": dict.fromkeys(fields, value)})
    return [*out, [], 5, {"error": 5}, {"error": "text"}, [{"error": {"code": "x"}}]]


def _string_fields(client: str, payload: Any) -> None:
    """The client's error shape with every field its SDK reads of the type it expects."""
    error_shape(client, payload)
    error = payload["error"]
    names = {"messages": ("type",), "gemini": ("status",)}.get(client, ("type",))
    for name in (*names, "message"):
        assert isinstance(error[name], str), payload
    for name in ("param", "code"):
        if client in ("chat", "responses"):
            assert error.get(name) is None or isinstance(error[name], str), payload


@pytest.mark.parametrize("status", [400, 429, 529])
@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_an_upstream_error_of_odd_types_reaches_the_client_in_its_shape(
    gateway: Proc, upstream: str, client: str, status: int
) -> None:
    """Before: an OpenAI-family upstream's ``param`` went through as it came (``"param":
    {"a": 1}`` in a Responses client's error, ``true`` in a Chat Completions one's)."""
    path, body = request(client, f"to-{upstream}", False)
    with httpx.Client(base_url=gateway.url, timeout=20) as http:
        for error in _odd_errors(upstream):
            answer = {"status": status, "chunks": [json.dumps(error)]}
            reply = http.post(path, json=body, headers=header(answer))
            assert reply.status_code >= 400, reply.text
            _string_fields(client, reply.json())


def test_the_openai_sdk_reads_an_upstream_errors_param_as_a_string_or_none(gateway: Proc) -> None:
    error = {"error": {"message": "no", "type": "x", "param": {"a": 1}}}
    headers = header({"status": 400, "chunks": [json.dumps(error)]})
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="to-chat", input="hi", extra_headers=headers)
    assert caught.value.param is None and caught.value.message.endswith("no")
