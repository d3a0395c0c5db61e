"""Responses an OpenAI account holds: retrieve, delete, ``input_items`` and ``cancel`` reach
the deployment and key that created them, for the gateway key that created them only.

The upstream is the recording one (tests/support/rogue.py): each call's answer is set by the
test (``x-rogue-body``, forwarded like any ``forward_headers`` header), and what reached it
(method, path, query, credential) is read back, so the test sees exactly where each request
went. Two OpenAI deployments taken in turn, two keys each: only the pin finds the holder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, rogue_requests, rogue_reset, start_gateway, start_rogue
from tests.support.request_log import request_line
from turnout.protocols.responses.response import envelope

MASTER = "sy-master-heldstate-0123456789"


def _response(rid: str, status: str = "completed") -> str:
    return json.dumps(envelope(rid, "m-held", 1, status, [], None))


def _items(ids: list[str], has_more: bool) -> str:
    data = [
        {"type": "message", "id": i, "role": "user", "status": "completed",
         "content": [{"type": "input_text", "text": i}]}
        for i in ids
    ]  # fmt: skip
    return json.dumps(
        {
            "object": "list",
            "data": data,
            "first_id": ids[0],
            "last_id": ids[-1],
            "has_more": has_more,
        }
    )


@pytest.fixture(scope="module")
def rogue() -> Iterator[Proc]:
    proc = start_rogue()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def held(rogue: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    def provider(name: str) -> dict[str, Any]:
        keys = [f"sk-upstream-{name}-0001", f"sk-upstream-{name}-0002"]
        return {
            "type": "openai",
            "base_url": f"{rogue.url}/v1",
            "api_keys": keys,
            "forward_headers": ["x-rogue-*"],
        }

    config = {
        "providers": {"east": provider("east"), "west": provider("west")},
        "models": {
            "m-held": {
                "strategy": "round-robin",
                "deployments": [
                    {"provider": "east", "model": "up-east"},
                    {"provider": "west", "model": "up-west"},
                ],
            }
        },
    }  # with the request log on stdout (a cut stream's line)
    env = {"TURNOUT_MASTER_KEY": MASTER}
    proc = start_gateway(config, tmp_path_factory.mktemp("held"), env=env, ready_within=60)
    yield proc
    proc.stop()


def _client(held: Proc) -> openai.OpenAI:
    resp = httpx.post(
        held.url + "/admin/keys", json={}, headers={"authorization": f"Bearer {MASTER}"}
    )
    assert resp.status_code == 201, resp.text
    return openai.OpenAI(api_key=resp.json()["key"], base_url=held.url + "/v1", max_retries=0)


def _seen(rogue: Proc) -> list[tuple[str, str, str]]:
    """(method, target, credential) of each request the upstream got since the last reset."""
    out = []
    for record in rogue_requests(rogue):
        lines = record["head"].split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        auth = next(v for n, _, v in (x.partition(": ") for x in lines) if n == "authorization")
        out.append((method, target, auth))
    rogue_reset(rogue)
    return out


def test_requests_about_a_held_response_reach_its_deployment_and_key(
    held: Proc, rogue: Proc
) -> None:
    alice, mallory = _client(held), _client(held)
    where = set()
    for n in range(4):  # round-robin: both deployments hold some
        rid = f"resp_held{n}"
        rogue_reset(rogue)
        made = alice.responses.create(
            model="m-held", input="Hi", extra_headers={"x-rogue-body": _response(rid)}
        )
        assert made.id == rid
        [(_, target, key)] = _seen(rogue)
        assert target == "/v1/responses"
        where.add(key)

        got = alice.responses.retrieve(rid, extra_headers={"x-rogue-body": _response(rid)})
        assert got.id == rid
        page = alice.responses.input_items.list(
            rid, limit=2, order="asc", after="msg_a",
            extra_headers={"x-rogue-body": _items(["msg_b", "msg_c"], False)},
        )  # fmt: skip
        assert [i.id for i in page] == ["msg_b", "msg_c"]
        cancelled = alice.responses.cancel(
            rid, extra_headers={"x-rogue-body": _response(rid, "cancelled")}
        )
        assert cancelled.status == "cancelled"
        assert _seen(rogue) == [
            ("GET", f"/v1/responses/{rid}", key),
            ("GET", f"/v1/responses/{rid}/input_items?limit=2&order=asc&after=msg_a", key),
            ("POST", f"/v1/responses/{rid}/cancel", key),
        ]
        # Another gateway key cannot reach it: a 404 of the gateway's, nothing sent upstream.
        for attempt in (
            mallory.responses.retrieve,
            mallory.responses.input_items.list,
            mallory.responses.cancel,
            mallory.responses.delete,
        ):
            with pytest.raises(openai.NotFoundError) as info:
                attempt(rid)
            assert rid in info.value.message
        assert _seen(rogue) == []

        deleted = {"id": rid, "object": "response.deleted", "deleted": True}
        alice.responses.delete(rid, extra_headers={"x-rogue-body": json.dumps(deleted)})
        assert _seen(rogue) == [("DELETE", f"/v1/responses/{rid}", key)]
        with pytest.raises(openai.NotFoundError):  # the pin went with it
            alice.responses.retrieve(rid)
        assert _seen(rogue) == []
    # Both deployments (and more than one key) made some: the pin, not luck, found each holder.
    assert {k.split("-")[2] for k in where} == {"east", "west"} and len(where) >= 2


def test_the_holders_answer_is_relayed_as_it_came(held: Proc, rogue: Proc) -> None:
    alice = _client(held)
    alice.responses.create(
        model="m-held", input="Hi", extra_headers={"x-rogue-body": _response("resp_gone")}
    )
    missing = {"error": {"message": "Response gone upstream", "type": "invalid_request_error",
                         "param": None, "code": None}}  # fmt: skip
    with pytest.raises(openai.NotFoundError) as info:
        alice.responses.retrieve(
            "resp_gone",
            extra_headers={"x-rogue-status": "404", "x-rogue-body": json.dumps(missing)},
        )
    assert info.value.body == missing["error"]  # the holder's own error, untouched
    with pytest.raises(openai.BadRequestError) as bad:  # checked before it goes anywhere
        alice.responses.input_items.list("resp_gone", limit=500)
    assert bad.value.param == "limit"


def test_a_stream_the_holder_cuts_short_is_an_error_event_and_a_failed_call(held: Proc) -> None:
    """One event, then the upstream closes cleanly: no response.completed ever comes."""
    alice = _client(held)
    created = {"type": "response.created", "sequence_number": 0,
               "response": json.loads(_response("resp_cut", "in_progress"))}  # fmt: skip
    headers = {
        "authorization": f"Bearer {alice.api_key}",
        "x-request-id": "req-cut-stream-0001",
        "x-rogue-sse": "1",
        "x-rogue-body": "data: " + json.dumps(created),
    }
    body = {"model": "m-held", "input": "Hi", "stream": True}
    seen = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),  # the connection is aborted
        httpx.stream("POST", held.url + "/v1/responses", json=body, headers=headers) as r,
    ):
        for chunk in r.iter_raw():
            seen += chunk
    events = [json.loads(x[5:]) for x in seen.split(b"\n") if x.startswith(b"data:")]
    assert [(e["type"], e["sequence_number"]) for e in events] == [
        ("response.created", 0),
        ("error", 1),
    ]
    line = request_line(held, "req-cut-stream-0001")
    assert line["error"] == "stream:StreamIncomplete", line
