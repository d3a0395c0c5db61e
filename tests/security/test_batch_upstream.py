"""A hostile upstream behind Message Batches: a batch id that is no path segment, an answer
that is no batch, or a results stream of unparsable lines. The id is never recorded (so never
put in a later upstream path), the client gets a 502 in Anthropic's shape, and results are
relayed as they came with nothing counted."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.support.procs import Proc, scripted_requests, start_gateway, start_scripted
from tests.support.wait import until

MASTER = "sy-master-batch-upstream-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
GOOD_LINE = json.dumps(
    {
        "custom_id": "z",
        "result": {
            "type": "succeeded",
            "message": {"model": "claude-up", "usage": {"input_tokens": 9, "output_tokens": 4}},
        },
    }
)


def batch(batch_id: str) -> str:
    return json.dumps(
        {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended",
            "request_counts": {
                "processing": 0, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0
            },
            "created_at": "2026-12-07T00:00:00Z",
            "expires_at": "2026-12-08T00:00:00Z",
            "results_url": f"https://elsewhere.invalid/{batch_id}/results",
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    """The gateway and its scripted upstream."""
    tmp = Path(tmp_path_factory.mktemp("batch-upstream"))
    script: dict[str, Any] = {
        "POST /v1/messages/batches": {"chunks": [batch("msgbatch_good")]},
        "GET /v1/messages/batches/msgbatch_good": {"chunks": [batch("msgbatch_good")]},
        "GET /v1/messages/batches/msgbatch_good/results": {
            "type": "application/x-jsonl",
            "chunks": ['{"custom_id": "a", "result": {"type": "succeeded", "message": [1]}}\n'],
            "repeat": {"chunk": "\x00not json\n", "times": 50},
        },
        # 20 MiB with no newline (past the 16 MiB a line may be), then one line to count.
        "GET /v1/messages/batches/msgbatch_long/results": {
            "type": "application/x-jsonl",
            "repeat": {"chunk": "a" * 65536, "times": 320},
            "after": ["\n" + GOOD_LINE + "\n"],
        },
    }
    upstream = start_scripted(script, tmp)
    config = {
        "providers": {
            "an": {
                "type": "anthropic",
                "base_url": upstream.url,
                "api_keys": ["sk-x"],
                "forward_headers": ["x-scripted-*"],
            }
        },
        "models": {"claude": {"deployments": [{"provider": "an", "model": "claude-up"}]}},
    }
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc, upstream
    proc.stop()
    upstream.stop()


@pytest.fixture(scope="module")
def gw(pair: tuple[Proc, Proc]) -> Proc:
    return pair[0]


def client(gw: Proc) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=MASTER, base_url=gw.url, max_retries=0)


REQUEST: Any = {
    "custom_id": "a",
    "params": {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
}


def test_the_results_url_is_the_gateways_and_hostile_lines_are_relayed_uncounted(
    gw: Proc,
) -> None:
    c = client(gw)
    made = c.messages.batches.create(requests=[REQUEST])
    assert made.results_url == "/v1/messages/batches/msgbatch_good/results"
    resp = httpx.get(
        gw.url + "/v1/messages/batches/msgbatch_good/results", headers={"x-api-key": MASTER}
    )
    assert resp.status_code == 200
    assert resp.content.count(b"\x00not json\n") == 50


@pytest.mark.parametrize(
    "body",
    [batch("../../v1/files"), batch("msgbatch_x?key=1"), '{"id": 7}', "[]", "not json"],
    ids=["walk", "query", "id-not-a-string", "not-an-object", "not-json"],
)
def test_an_upstream_batch_id_that_is_no_path_segment_is_never_recorded(
    gw: Proc, body: str
) -> None:
    answer = {"chunks": [body]}
    header = {"x-scripted-answer": base64.b64encode(json.dumps(answer).encode()).decode()}
    with pytest.raises(anthropic.InternalServerError) as caught:
        client(gw).messages.batches.create(requests=[REQUEST], extra_headers=header)
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    listed = [b.id for b in client(gw).messages.batches.list()]
    assert all(re.fullmatch(r"msgbatch_[a-z0-9]+", i) for i in listed), listed


def in_progress(batch_id: str) -> str:
    return batch(batch_id).replace('"ended"', '"in_progress"')


def test_a_listing_asks_the_upstream_about_a_bounded_number_of_batches(
    pair: tuple[Proc, Proc],
) -> None:
    """Thirty batches in progress, listed a hundred to a page: before, one upstream request
    each (a thousand per listing at the most), on the provider's key and rate limits."""
    gw, upstream = pair
    ids = [f"msgbatch_many{i:03d}" for i in range(30)]
    for batch_id in ids:
        answer = {"chunks": [in_progress(batch_id)]}
        header = {"x-scripted-answer": base64.b64encode(json.dumps(answer).encode()).decode()}
        client(gw).messages.batches.create(requests=[REQUEST], extra_headers=header)
    before = len(scripted_requests(upstream))
    listed = client(gw).messages.batches.list(limit=100)
    assert {b.id for b in listed.data} >= set(ids)
    asked = scripted_requests(upstream)[before:]
    assert 0 < len(asked) <= 20
    assert all(r["path"].startswith("/v1/messages/batches/msgbatch_") for r in asked)


WRONG = [7, -1, 1.5, True, None, "x", [], ["a"], {}, {"a": 1}, 10**30]


@pytest.mark.parametrize("field", ["processing_status", "results_url", "request_counts", "id"])
@pytest.mark.parametrize("value", WRONG, ids=[repr(v)[:12] for v in WRONG])
def test_a_batch_object_with_a_wrong_type_is_never_a_500(
    pair: tuple[Proc, Proc], field: str, value: Any
) -> None:
    """Whatever the upstream puts in the fields the gateway reads, the creation is relayed
    (200) or refused as the upstream's fault (502, Anthropic's shape, nothing recorded), and
    the listing that follows still answers."""
    gw, _ = pair
    made = json.loads(batch("msgbatch_typed"))
    made[field] = value
    answer = {"chunks": [json.dumps(made)]}
    header = {"x-scripted-answer": base64.b64encode(json.dumps(answer).encode()).decode()}
    resp = httpx.post(
        gw.url + "/v1/messages/batches",
        json={"requests": [REQUEST]},
        headers={"x-api-key": MASTER, **header},
    )
    assert resp.status_code in (200, 502), resp.text
    if resp.status_code == 502:
        assert field == "id" and resp.json()["type"] == "error"
    else:
        assert field != "id" or value == "x"  # "x" is an id like any
        got = resp.json()
        if field != "results_url" or value:  # present: never the upstream's own
            assert got["results_url"] == f"/v1/messages/batches/{got['id']}/results"
    listed = httpx.get(gw.url + "/v1/messages/batches?limit=1000", headers={"x-api-key": MASTER})
    assert listed.status_code == 200


def test_a_results_body_without_newlines_is_relayed_whole_with_bounded_holding(
    pair: tuple[Proc, Proc],
) -> None:
    """20 MiB with no newline: relayed byte for byte (the gateway holds at most 16 MiB of it,
    then drops what it held), and the line after it is still counted."""
    gw, _ = pair
    answer = {"chunks": [batch("msgbatch_long")]}
    header = {"x-scripted-answer": base64.b64encode(json.dumps(answer).encode()).decode()}
    client(gw).messages.batches.create(requests=[REQUEST], extra_headers=header)
    resp = httpx.get(
        gw.url + "/v1/messages/batches/msgbatch_long/results",
        headers={"x-api-key": MASTER},
        timeout=60.0,
    )
    assert resp.status_code == 200
    assert len(resp.content) == 320 * 65536 + len(GOOD_LINE) + 2
    assert resp.content.endswith(GOOD_LINE.encode() + b"\n")
    rid = resp.headers["x-request-id"]

    def usage() -> list[dict[str, Any]]:
        got = httpx.get(gw.url + "/admin/logs", params={"request_id": rid}, headers=ADMIN)
        return [r for r in got.json()["rows"] if r["operation"] == "batches.usage"]

    until(lambda: usage())
    assert [(r["input_tokens"], r["output_tokens"]) for r in usage()] == [(9, 4)]


def test_a_batch_in_progress_naming_ended_in_a_nested_field_is_still_refreshed(
    pair: tuple[Proc, Proc],
) -> None:
    """Before, any ``"processing_status":"ended"`` in the stored bytes counted as ended: a
    batch in progress whose ``request_counts`` said so was never asked about again."""
    gw, upstream = pair
    made = json.loads(in_progress("msgbatch_nested"))
    made["request_counts"] = {"processing_status": "ended"}
    answer = {"chunks": [json.dumps(made)]}
    header = {"x-scripted-answer": base64.b64encode(json.dumps(answer).encode()).decode()}
    client(gw).messages.batches.create(requests=[REQUEST], extra_headers=header)
    before = len(scripted_requests(upstream))
    client(gw).messages.batches.list(limit=1)  # the newest: this one
    asked = [r["path"] for r in scripted_requests(upstream)[before:]]
    assert asked == ["/v1/messages/batches/msgbatch_nested"]
