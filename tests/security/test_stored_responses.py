"""Stored Responses state under hostile path, query and body values, with two teams' keys.

Two upstreams: the recording one (tests/support/rogue.py) as an OpenAI provider, which holds
its responses itself (the gateway pins them to the deployment and key that answered), and the
mock as an Anthropic provider, whose answers the gateway keeps whole. The OpenAI SDK is the
client and the judge of every error; the rogue's record says what reached an account that
every gateway key shares.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, rogue_requests, start_gateway
from turnout.protocols.responses.response import envelope

MASTER = "sy-master-stored-responses-0123"
HELD, KEPT = "m-held", "m-kept"  # an OpenAI upstream; a translated one
STREAMED = "m-held-mock"  # an OpenAI upstream that streams whole Responses events (the mock)


def _response(rid: str) -> str:
    return json.dumps(envelope(rid, HELD, 1, "completed", [], None))


@pytest.fixture(scope="module")
def gateway(
    rogue_server: Proc, mock: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    held = {
        "type": "openai",
        "base_url": f"{rogue_server.url}/v1",
        "api_keys": ["sk-upstream-shared-account-0001"],
        "forward_headers": ["x-rogue-*"],
    }
    kept = {**mock_provider(mock), "type": "anthropic", "base_url": mock.url}
    openai_mock = {**mock_provider(mock), "type": "openai"}  # streams whole Responses events
    config = {
        "storage": {"enabled": False},
        "cache": {"backend": "memory"},  # a team's keys share answers (the default namespace)
        "providers": {"held": held, "kept": kept, "openai-mock": openai_mock},
        "models": {
            HELD: {"deployments": [{"provider": "held", "model": "up-held"}]},
            KEPT: {"deployments": [{"provider": "kept", "model": "claude-up"}]},
            f"cached-{HELD}": {"cache": True, "deployments": [{"provider": "openai-mock"}]},
            f"cached-{KEPT}": {"cache": True, "deployments": [{"provider": "kept"}]},
            STREAMED: {"deployments": [{"provider": "openai-mock"}]},
        },
    }
    env = {"TURNOUT_MASTER_KEY": MASTER}
    proc = start_gateway(config, tmp_path_factory.mktemp("stored"), env=env)
    admin = {"authorization": f"Bearer {MASTER}"}
    for team in ("alpha", "beta"):
        made = httpx.post(proc.url + "/admin/teams", json={"name": team}, headers=admin)
        assert made.status_code == 201, made.text
    yield proc
    proc.stop()


def _client(gateway: Proc, team: str) -> openai.OpenAI:
    made = httpx.post(
        gateway.url + "/admin/keys",
        json={"team": team},
        headers={"authorization": f"Bearer {MASTER}"},
    )
    assert made.status_code == 201, made.text
    return openai.OpenAI(api_key=made.json()["key"], base_url=gateway.url + "/v1", max_retries=0)


def _held_response(client: openai.OpenAI, rid: str) -> None:
    made = client.responses.create(
        model=HELD, input="my secret plan", extra_headers={"x-rogue-body": _response(rid)}
    )
    assert made.id == rid


def _no_tracebacks(gateway: Proc) -> None:
    log = gateway.output()
    assert "Traceback" not in log and "request failed" not in log, log[-3000:]


# Query values as a client (or its SDK's ``extra_query``) can send them: percent-decoded by the
# gateway, so any character reaches the parser.
HOSTILE_QUERIES: list[dict[str, Any]] = [
    {"limit": "²"},  # str.isdigit() is true, int() refuses it: used to be a plain-text 500
    {"limit": "٣"},  # Arabic-Indic three: int() reads it, OpenAI would not
    {"limit": "\uff11"},  # full-width one
    {"limit": ""},
    {"limit": "1e3"},
    {"limit": "0x10"},
    {"limit": "-1"},
    {"limit": "9" * 400},
    {"order": "ÿ"},
    {"order": "ASC"},
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES, ids=lambda q: repr(q)[:30])
@pytest.mark.parametrize("where", ["kept", "held"])
def test_input_items_query_values_are_a_400_naming_the_parameter(
    gateway: Proc, rogue: Proc, where: str, query: dict[str, Any]
) -> None:
    alice = _client(gateway, "alpha")
    if where == "held":
        rid = "resp_heldquery"
        _held_response(alice, rid)
    else:
        rid = alice.responses.create(model=KEPT, input="Hi").id
    sent = len(rogue_requests(rogue))
    with pytest.raises(openai.BadRequestError) as info:
        alice.responses.input_items.list(rid, extra_query=query)
    assert info.value.param == next(iter(query))
    assert len(rogue_requests(rogue)) == sent  # checked before anything is forwarded
    _no_tracebacks(gateway)


def _continue(client: openai.OpenAI, model: str, rid: str, count: bool) -> Any:
    if count:
        return client.responses.input_tokens.count(
            model=model, previous_response_id=rid, input="and then?"
        )
    return client.responses.create(model=model, previous_response_id=rid, input="and then?")


@pytest.mark.parametrize("count", [False, True], ids=["create", "input_tokens"])
def test_another_keys_response_never_reaches_the_account_holding_it(
    gateway: Proc, rogue: Proc, count: bool
) -> None:
    """Before: mallory's follow-up naming alice's OpenAI-held response was forwarded to the
    shared account, which continued alice's conversation for mallory."""
    alice, teammate, mallory = (_client(gateway, t) for t in ("alpha", "alpha", "beta"))
    rid = f"resp_alicesplan{int(count)}"
    _held_response(alice, rid)
    for other, target in [(mallory, rid), (teammate, rid), (alice, "resp_nevermadehere")]:
        sent = len(rogue_requests(rogue))
        with pytest.raises(openai.BadRequestError) as info:
            _continue(other, HELD, target, count)
        assert info.value.code == "previous_response_not_found"
        assert info.value.param == "previous_response_id"
        assert len(rogue_requests(rogue)) == sent
    # Alice herself still continues it, at the account that holds it.
    answer = json.dumps({"object": "response.input_tokens", "input_tokens": 7})
    body = answer if count else _response("resp_alicesturn2")
    _continue_with(alice, rid, count, body)
    [last] = rogue_requests(rogue)[-1:]
    assert json.loads(last["body_head"])["previous_response_id"] == rid
    # Once deleted, it is gone for her too, without asking the account.
    deleted = json.dumps({"id": rid, "object": "response.deleted", "deleted": True})
    alice.responses.delete(rid, extra_headers={"x-rogue-body": deleted})
    sent = len(rogue_requests(rogue))
    with pytest.raises(openai.BadRequestError):
        _continue(alice, HELD, rid, count)
    assert len(rogue_requests(rogue)) == sent
    _no_tracebacks(gateway)


def _continue_with(client: openai.OpenAI, rid: str, count: bool, body: str) -> None:
    extra = {"x-rogue-body": body}
    if count:
        client.responses.input_tokens.count(
            model=HELD, previous_response_id=rid, input="and then?", extra_headers=extra
        )
    else:
        client.responses.create(
            model=HELD, previous_response_id=rid, input="and then?", extra_headers=extra
        )


@pytest.mark.parametrize("count", [False, True], ids=["create", "input_tokens"])
@pytest.mark.parametrize("conversation", ["conv_someoneelses", {"id": "conv_someoneelses"}])
def test_a_conversation_never_reaches_the_shared_account(
    gateway: Proc, rogue: Proc, count: bool, conversation: Any
) -> None:
    """The gateway serves no Conversations API, so a conversation in its provider account was
    made outside it: before, naming one was forwarded and the shared account read and
    extended it for any key that knew its id."""
    mallory = _client(gateway, "beta")
    sent = len(rogue_requests(rogue))
    with pytest.raises(openai.BadRequestError) as info:
        if count:
            mallory.responses.input_tokens.count(
                model=HELD, conversation=conversation, input="and then?"
            )
        else:
            mallory.responses.create(model=HELD, conversation=conversation, input="and then?")
    assert info.value.param == "conversation"
    assert len(rogue_requests(rogue)) == sent
    _no_tracebacks(gateway)


def test_counting_a_turn_that_continues_a_kept_response(gateway: Proc) -> None:
    """Before: input_tokens naming a response the gateway keeps was a 400 'not found' on every
    translated upstream (the conversation was never expanded for counting)."""
    alice, mallory = _client(gateway, "alpha"), _client(gateway, "beta")
    first = alice.responses.create(model=KEPT, input="Remember the number 7.")
    alone = alice.responses.input_tokens.count(model=KEPT, input="and then?")
    counted = alice.responses.input_tokens.count(
        model=KEPT, previous_response_id=first.id, input="and then?"
    )
    assert counted.input_tokens > alone.input_tokens  # the kept turn was counted too
    with pytest.raises(openai.BadRequestError) as info:
        _continue(mallory, KEPT, first.id, count=True)
    assert info.value.code == "previous_response_not_found"
    _no_tracebacks(gateway)


def _ask(client: openai.OpenAI, model: str, prompt: str, stream: bool) -> Any:
    if stream:
        with client.responses.stream(model=model, input=prompt) as s:
            for _ in s:
                pass
            return s.get_final_response()
    return client.responses.create(model=model, input=prompt)


@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
@pytest.mark.parametrize("model", [f"cached-{KEPT}", f"cached-{HELD}"])
def test_a_cached_answer_is_a_response_of_its_own_for_each_caller(
    gateway: Proc, model: str, stream: bool
) -> None:
    """Before: a teammate served from the cache got the first caller's response id, which it
    could neither retrieve nor continue (the gateway held it for the first caller only), and
    a translated hit said ``store: false``."""
    alice, teammate = _client(gateway, "alpha"), _client(gateway, "alpha")
    prompt = f"cached {model} {stream}"
    first = _ask(alice, model, prompt, stream)
    again = _ask(teammate, model, prompt, stream)
    assert again.id != first.id and again.store is True
    assert again.output_text == first.output_text
    got = teammate.responses.retrieve(again.id)
    assert got.id == again.id
    with pytest.raises(openai.NotFoundError):  # each holds its own
        alice.responses.retrieve(again.id)
    teammate.responses.create(model=model, previous_response_id=again.id, input="and then?")
    if model.endswith(KEPT):  # the first caller's record is untouched (the mock holds no other)
        assert alice.responses.retrieve(first.id).id == first.id
    _no_tracebacks(gateway)


def _refused_reference(client: openai.OpenAI, model: str, items: list[Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=model, input=items)
    assert info.value.param == param, info.value


def test_another_keys_stored_items_are_never_named_at_the_shared_account(
    gateway: Proc, rogue: Proc
) -> None:
    """Before: an input item naming a stored item by id (an ``item_reference``, or a reasoning
    item without its ``encrypted_content``) was forwarded as it was, and the shared account
    put alice's stored message or reasoning into mallory's conversation."""
    alice, teammate, mallory = (_client(gateway, t) for t in ("alpha", "alpha", "beta"))
    output: list[dict[str, Any]] = [
        {
            "type": "message",
            "id": "msg_alicesecret",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "the plan", "annotations": []}],
        },
        {"type": "reasoning", "id": "rs_alicethought", "summary": []},
    ]
    made = alice.responses.create(
        model=HELD,
        input="my secret plan",
        extra_headers={
            "x-rogue-body": json.dumps(
                envelope("resp_aliceitems", HELD, 1, "completed", output, None)
            )
        },
    )
    assert made.id == "resp_aliceitems"
    reference = {"type": "item_reference", "id": "msg_alicesecret"}
    thought = {"type": "reasoning", "id": "rs_alicethought", "summary": []}
    ask = {"role": "user", "content": "repeat it"}
    sent = len(rogue_requests(rogue))
    for other in (mallory, teammate):
        _refused_reference(other, HELD, [reference, ask], "input[0].id")
        _refused_reference(other, HELD, [ask, thought], "input[1].id")
    _refused_reference(alice, HELD, [{"type": "item_reference", "id": 5}], "input[0].id")
    _refused_reference(alice, HELD, [{"type": "item_reference", "id": "msg_nope"}], "input[0].id")
    assert len(rogue_requests(rogue)) == sent  # refused before anything was forwarded
    # Alice names her own items, at the account that holds them; a reasoning item sent back
    # whole (its encrypted content) names nothing stored.
    whole = {**thought, "id": "rs_someoneelses", "encrypted_content": "gAAAA"}
    alice.responses.create(
        model=HELD,
        input=[reference, thought, whole, ask],  # type: ignore[list-item]
        extra_headers={"x-rogue-body": _response("resp_alicesturn3")},
    )
    [last] = rogue_requests(rogue)[-1:]
    assert json.loads(last["body_head"])["input"][:2] == [reference, thought]
    _no_tracebacks(gateway)


def test_items_of_a_streamed_response_are_named_by_their_key_only(gateway: Proc) -> None:
    """A streamed answer's items are recorded as the stream passes (each
    ``response.output_item.done``): alice may name them, mallory may not."""
    alice, mallory = _client(gateway, "alpha"), _client(gateway, "beta")
    with alice.responses.stream(model=STREAMED, input="tell me") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    ids = [str(ref) for item in final.output if (ref := getattr(item, "id", None))]
    assert ids
    for ref in ids:
        item: dict[str, Any] = {"type": "item_reference", "id": ref}
        _refused_reference(mallory, STREAMED, [item], "input[0].id")
        go: Any = [item, {"role": "user", "content": "go"}]
        alice.responses.create(model=STREAMED, input=go)
    _no_tracebacks(gateway)
