"""``input_items`` and ``cancel`` of the responses the gateway keeps, judged by the OpenAI SDK.

A response a translated upstream answered is kept by the gateway; its input items (the
earlier turns it replayed, then the response's own input) are listed in OpenAI's list shape
and paged by the SDK's own cursor (``after`` = the last item's id).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conformance.clients import QUESTION, input_text
from tests.conformance.conftest import conformance_config, model_for
from tests.support.procs import Proc, start_gateway
from tests.support.request_log import request_line

TRANSLATED = ("anthropic", "gemini", "openai")


@pytest.fixture(scope="module")
def sdk(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-client-openai",
        base_url=gw.url + "/v1",
        max_retries=0,
        _strict_response_validation=True,
    )


def create(sdk: openai.OpenAI, stream: bool, **kwargs: Any) -> Any:
    if stream:
        with sdk.responses.stream(**kwargs) as s:
            for _ in s:
                pass
            return s.get_final_response()
    return sdk.responses.create(**kwargs)


@pytest.mark.parametrize("stream", [False, True], ids=["once", "stream"])
@pytest.mark.parametrize("provider", TRANSLATED)
def test_input_items_list_the_conversation_and_page_through_the_sdk(
    sdk: openai.OpenAI, provider: str, stream: bool
) -> None:
    model = model_for(provider)
    first = create(sdk, stream, model=model, input=QUESTION)
    turn = [
        {"role": "user", "content": "And tomorrow?"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Rain?"}]},
    ]
    second = create(sdk, stream, model=model, previous_response_id=first.id, input=turn)
    # Two at a time, oldest first: the SDK follows has_more with after=<last id>.
    listed = list(sdk.responses.input_items.list(second.id, limit=2, order="asc"))
    assert len(listed) == 1 + len(first.output) + 2
    assert len({item.id for item in listed}) == len(listed)
    head, tail = listed[0], listed[-2:]
    assert head.type == "message" and head.role == "user"
    assert head.content[0].type == "input_text" and head.content[0].text == QUESTION
    assert [i.id for i in listed[1 : 1 + len(first.output)]] == [o.id for o in first.output]
    assert [input_text(t) for t in tail] == ["And tomorrow?", "Rain?"]
    # The default order is newest first, 20 to a page; ids are stable between listings.
    newest = sdk.responses.input_items.list(second.id)
    assert [i.id for i in newest.data] == [i.id for i in reversed(listed)]
    assert newest.has_more is False
    only = sdk.responses.input_items.list(first.id, include=["message.input_image.image_url"])
    assert [i.id for i in only.data] == [head.id]


def test_the_list_has_openais_shape(sdk: openai.OpenAI, gw: Proc) -> None:
    first = sdk.responses.create(model=model_for("gemini"), input=QUESTION)
    second = sdk.responses.create(
        model=model_for("gemini"), previous_response_id=first.id, input="And tomorrow?"
    )
    url = f"{gw.url}/v1/responses/{second.id}/input_items"
    page = httpx.get(url, params={"limit": 1, "order": "asc"}).json()
    assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}
    assert page["object"] == "list" and page["has_more"] is True
    assert page["first_id"] == page["last_id"] == page["data"][0]["id"]
    rest = httpx.get(url, params={"after": page["last_id"], "order": "asc"}).json()
    assert rest["has_more"] is False and len(rest["data"]) == 1 + len(first.output)
    assert rest["data"][-1]["content"][0]["text"] == "And tomorrow?"


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"order": "sideways"}])
def test_bad_listing_parameters_are_openais_400(sdk: openai.OpenAI, query: dict[str, Any]) -> None:
    first = sdk.responses.create(model=model_for("anthropic"), input=QUESTION)
    with pytest.raises(openai.BadRequestError) as info:
        sdk.responses.input_items.list(first.id, **query)
    assert info.value.param == next(iter(query))


def test_items_of_an_unknown_response_are_a_404(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        sdk.responses.input_items.list("resp_nosuchthing")
    assert "resp_nosuchthing" in info.value.message


def test_a_kept_response_cannot_be_cancelled(sdk: openai.OpenAI) -> None:
    """It ran in the foreground (translated upstreams refuse background): OpenAI's 400."""
    first = sdk.responses.create(model=model_for("anthropic"), input=QUESTION)
    with pytest.raises(openai.BadRequestError) as info:
        sdk.responses.cancel(first.id)
    assert "background" in info.value.message
    assert sdk.responses.retrieve(first.id).status == "completed"  # untouched
    with pytest.raises(openai.NotFoundError):
        sdk.responses.cancel("resp_nosuchthing")


@pytest.fixture(scope="module")
def logged(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """The conformance gateway with its request lines on."""
    cfg = conformance_config(mock)
    cfg["logging"] = {"requests": True}
    proc = start_gateway(cfg, tmp_path_factory.mktemp("logged"), ready_within=60)
    yield proc
    proc.stop()


def test_calls_on_a_kept_response_are_request_log_rows(logged: Proc) -> None:
    """Retrieving, listing and deleting a stored response are calls like any other: each has
    its line (and row), with its operation, status and the public model."""
    sdk = openai.OpenAI(api_key="sk-client-openai", base_url=logged.url + "/v1", max_retries=0)
    gw = logged
    model = model_for("anthropic")
    created = sdk.responses.create(model=model, input=QUESTION)
    ids = {}
    for action, call in (
        ("retrieve", lambda: sdk.responses.with_raw_response.retrieve(created.id)),
        ("input_items", lambda: sdk.responses.input_items.with_raw_response.list(created.id)),
        ("delete", lambda: sdk.responses.with_raw_response.delete(created.id)),
    ):
        raw = call()
        assert raw.status_code == 200
        ids[action] = raw.headers["x-request-id"]
    missing = sdk.responses.with_raw_response
    with pytest.raises(openai.NotFoundError) as gone:
        missing.retrieve(created.id)
    ids["missing"] = gone.value.response.headers["x-request-id"]
    for action, rid in ids.items():
        line = request_line(gw, rid)
        want = "retrieve" if action == "missing" else action
        assert line["operation"] == f"responses.{want}" and line["protocol"] == "responses"
        if action == "missing":
            assert line["status"] == 404 and line["error"] == "NotFound"
        else:
            assert line["status"] == 200 and line["model"] == model and line["error"] is None
