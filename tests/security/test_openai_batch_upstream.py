"""A hostile upstream behind OpenAI's Batch API: a file or batch id that is no path segment,
an answer that is no file or batch, an output file id that could walk a path, a body over the
provider's cap, an output file of unparsable lines. No such id is recorded (so none is put in
a later upstream path), the client gets a 502 in OpenAI's shape, and an output file is relayed
as it came with only its well-formed lines counted."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import openai
import pytest

from tests.support.procs import Proc, scripted_requests, start_gateway, start_scripted
from tests.support.wait import until

MASTER = "sy-master-openai-batch-upstream-0123456789"
CHAT: Final = "/v1/chat/completions"
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def file(file_id: Any, purpose: str = "batch") -> str:
    return json.dumps(
        {
            "id": file_id, "object": "file", "bytes": 10, "created_at": 1, "filename": "f.jsonl",
            "purpose": purpose, "status": "processed",
        }
    )  # fmt: skip


def batch(batch_id: Any, output: Any = None) -> str:
    return json.dumps(
        {
            "id": batch_id, "object": "batch", "endpoint": CHAT, "input_file_id": "file-good",
            "completion_window": "24h", "status": "completed", "created_at": 1,
            "output_file_id": output, "error_file_id": None,
        }
    )  # fmt: skip


GOOD_LINE = {
    "id": "r1",
    "custom_id": "a",
    "response": {"status_code": 200, "body": {"model": "gpt-up", "usage": USAGE}},
    "error": None,
}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    script: dict[str, Any] = {
        "POST /v1/files": {"chunks": [file("file-good")]},
        "GET /v1/files/file-good": {"chunks": [file("file-good")]},
        "POST /v1/batches": {"chunks": [batch("batch_good", "file-out")]},
        "GET /v1/batches/batch_good": {"chunks": [batch("batch_good", "file-out")]},
        "GET /v1/files/file-out": {"chunks": [file("file-out", "batch_output")]},
        "GET /v1/files/file-flaky": {"status": 500, "chunks": ['{"error": {"message": "x"}}']},
        "GET /v1/files/file-flaky/content": {"chunks": [json.dumps(GOOD_LINE) + "\n"]},
        "GET /v1/files/file-out/content": {
            "type": "application/octet-stream",
            "chunks": [json.dumps(GOOD_LINE) + "\n", '{"response": [1]}\n'],
            "repeat": {"chunk": "\x00not json\n", "times": 50},
        },
    }
    proc = start_scripted(script, Path(tmp_path_factory.mktemp("oai-upstream")))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gw(upstream: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {
            "oa": {
                "type": "openai",
                "base_url": upstream.url + "/v1",
                "api_keys": ["sk-x"],
                "forward_headers": ["x-scripted-*"],
                "max_response_bytes": 65536,
            }
        },
        "models": {"gpt": {"deployments": [{"provider": "oa", "model": "gpt-up"}]}},
        "pricing": {"models": {"gpt": {"input": 1.0, "output": 2.0}}},
        "storage": {"flush_interval": 0.05},
    }
    tmp = tmp_path_factory.mktemp("oai-upstream-gw")
    proc = start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()


def client(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key=MASTER, base_url=gw.url + "/v1", max_retries=0)


LINE = json.dumps(
    {"custom_id": "a", "method": "POST", "url": CHAT, "body": {"model": "gpt", "messages": []}}
).encode()


def scripted(body: str | dict[str, Any]) -> dict[str, str]:
    answer = {"chunks": [body]} if isinstance(body, str) else body
    return {"x-scripted-answer": base64.b64encode(json.dumps(answer).encode()).decode()}


def test_output_is_relayed_as_it_came_and_only_good_lines_are_counted(gw: Proc) -> None:
    c = client(gw)
    made = c.files.create(file=("f.jsonl", LINE), purpose="batch")
    made_batch = c.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    assert made_batch.output_file_id == "file-out"
    raw = c.files.with_raw_response.content("file-out")
    content = raw.parse().content
    assert content.count(b"\x00not json\n") == 50
    rid = raw.headers["x-request-id"]

    def usage() -> list[dict[str, Any]]:
        got = httpx.get(
            gw.url + "/admin/logs",
            params={"request_id": rid},
            headers={"authorization": f"Bearer {MASTER}"},
        )
        return [r for r in got.json()["rows"] if r["operation"] == "batches.usage"]

    until(lambda: len(usage()) == 1)
    (row,) = usage()
    assert (row["input_tokens"], row["output_tokens"]) == (11, 7)
    assert row["model"] == "gpt"


@pytest.mark.parametrize(
    "body",
    [file("../../v1/batches"), file("file-x?key=1"), file(7), "[]", "not json"],
    ids=["walk", "query", "id-not-a-string", "not-an-object", "not-json"],
)
def test_an_upstream_file_id_that_is_no_path_segment_is_never_recorded(gw: Proc, body: str) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client(gw).files.create(
            file=("f.jsonl", LINE), purpose="batch", extra_headers=scripted(body)
        )
    assert caught.value.status_code == 502
    assert isinstance(caught.value.body, dict) and caught.value.body["message"]
    listed = [f.id for f in client(gw).files.list()]
    assert all(i in ("file-good", "file-out") for i in listed)


@pytest.mark.parametrize(
    "body",
    [batch("../files"), batch("batch_x#y"), batch("batch_ok", "../../v1/files/x"), batch("b", 7)],
    ids=["walk", "fragment", "output-walk", "output-not-a-string"],
)
def test_an_upstream_batch_id_that_is_no_path_segment_is_never_recorded(
    gw: Proc, upstream: Proc, body: str
) -> None:
    c = client(gw)
    made = c.files.create(file=("f.jsonl", LINE), purpose="batch")
    with pytest.raises(openai.InternalServerError) as caught:
        c.batches.create(
            input_file_id=made.id,
            endpoint=CHAT,
            completion_window="24h",
            extra_headers=scripted(body),
        )
    assert caught.value.status_code == 502
    assert [b.id for b in c.batches.list()] in ([], ["batch_good"])
    asked = [r["path"] for r in scripted_requests(upstream)]
    assert not [p for p in asked if ".." in p or "#" in p or "batch_ok" in p]


def test_an_answer_over_the_providers_cap_is_a_502(gw: Proc) -> None:
    huge = {
        "chunks": ['{"id": "file-big", "object": "file", "pad": "'],
        "repeat": {"chunk": "x" * 4096, "times": 10_000},  # 40 MB
        "after": ['"}'],
    }
    with pytest.raises(openai.InternalServerError) as caught:
        client(gw).files.create(
            file=("f.jsonl", LINE), purpose="batch", extra_headers=scripted(huge)
        )
    assert caught.value.status_code == 502
    assert "file-big" not in [f.id for f in client(gw).files.list()]


def test_a_hostile_client_id_never_reaches_the_upstream(gw: Proc, upstream: Proc) -> None:
    for path in ("/v1/files/..%2F..%2Fbatches", "/v1/batches/batch_x%3Fa", "/v1/files/nope"):
        resp = httpx.get(gw.url + path, headers={"authorization": f"Bearer {MASTER}"})
        assert resp.status_code == 404 and resp.json()["error"]["message"]
    asked = [r["path"] for r in scripted_requests(upstream)]
    assert not [p for p in asked if "nope" in p or "batches/batch_x" in p or "%2F" in p]


def test_an_output_file_its_holder_cannot_describe_is_still_the_owners(gw: Proc) -> None:
    c = client(gw)
    made = c.files.create(file=("f.jsonl", LINE), purpose="batch")
    # Forwarded to every request of the call, this header makes the holder answer the
    # output file's description with the batch again: another object than asked.
    flaky = scripted(batch("batch_flaky", "file-flaky"))
    got = c.batches.create(
        input_file_id=made.id, endpoint=CHAT, completion_window="24h", extra_headers=flaky
    )
    assert got.output_file_id == "file-flaky"
    assert "file-flaky" in [f.id for f in c.files.list(purpose="batch_output")]
    (only,) = c.files.content("file-flaky").content.splitlines()
    assert json.loads(only)["custom_id"] == "a"
    with pytest.raises(openai.InternalServerError):  # its holder's 500, relayed
        c.files.retrieve("file-flaky")


def test_an_uploads_id_another_key_holds_is_never_taken_over(gw: Proc) -> None:
    admin = {"authorization": f"Bearer {MASTER}"}
    keys = [httpx.post(gw.url + "/admin/keys", json={}, headers=admin).json()["key"] for _ in "ab"]
    a, b = (openai.OpenAI(api_key=k, base_url=gw.url + "/v1", max_retries=0) for k in keys)
    same = scripted(file("file-shared"))
    assert a.files.create(file=("f.jsonl", LINE), purpose="batch", extra_headers=same).id == (
        "file-shared"
    )
    with pytest.raises(openai.InternalServerError) as caught:
        b.files.create(file=("f.jsonl", LINE), purpose="batch", extra_headers=same)
    assert caught.value.status_code == 502
    assert [f.id for f in a.files.list()] == ["file-shared"]  # still the first key's
    assert [f.id for f in b.files.list()] == []


def test_a_file_object_too_large_to_keep_is_a_502_and_not_recorded(gw: Proc) -> None:
    """Objects are kept and listed (10,000 files a page): one of 60 KB (the provider's cap here
    is 64 KiB, 32 MiB by default) was held as it came, and shown in every listing."""
    head = file("file-padded").rstrip()[:-1] + ', "pad": "'
    padded = {"chunks": [head], "repeat": {"chunk": "x" * 1000, "times": 60}, "after": ['"}']}
    c = client(gw)
    with pytest.raises(openai.InternalServerError) as caught:
        c.files.create(file=("f.jsonl", LINE), purpose="batch", extra_headers=scripted(padded))
    assert caught.value.status_code == 502
    assert "file-padded" not in [f.id for f in c.files.list()]


def test_concurrent_reads_of_an_output_count_each_line_once(gw: Proc) -> None:
    """A read still relaying (its upstream holds the answer open) and a second one of the same
    output: each line is counted by the read that relays it first, not by both."""
    c = client(gw)
    made = c.files.create(file=("f.jsonl", LINE), purpose="batch")
    race = scripted(batch("batch_race", "file-race"))
    got = c.batches.create(
        input_file_id=made.id, endpoint=CHAT, completion_window="24h", extra_headers=race
    )
    assert got.output_file_id == "file-race"
    two = json.dumps(GOOD_LINE) + "\n" + json.dumps(GOOD_LINE) + "\n"
    url = gw.url + "/v1/files/file-race/content"
    auth = {"authorization": f"Bearer {MASTER}"}
    rids = []
    with httpx.stream(
        "GET", url, headers={**auth, **scripted({"chunks": [two], "hold": True})}, timeout=30
    ) as held:
        rids.append(held.headers["x-request-id"])
        lines = held.iter_lines()
        assert [next(lines), next(lines)] == [json.dumps(GOOD_LINE)] * 2
        whole = httpx.get(url, headers={**auth, **scripted({"chunks": [two]})})
        assert whole.text == two
        rids.append(whole.headers["x-request-id"])

    def usage() -> list[dict[str, Any]]:
        found = []
        for rid in rids:
            got = httpx.get(gw.url + "/admin/logs", params={"request_id": rid}, headers=auth)
            found += [r for r in got.json()["rows"] if r["operation"] == "files.content"]
            found += [r for r in got.json()["rows"] if r["operation"] == "batches.usage"]
        return found

    until(lambda: len([r for r in usage() if r["operation"] == "files.content"]) == 2)
    counted = [r for r in usage() if r["operation"] == "batches.usage"]
    assert sum(r["input_tokens"] for r in counted) == 2 * USAGE["prompt_tokens"]


@pytest.mark.parametrize("status", [[], {"a": 1}], ids=["list", "object"])
def test_a_batch_whose_status_is_no_string_leaves_the_listing_served(gw: Proc, status: Any) -> None:
    c = client(gw)
    made = c.files.create(file=("f.jsonl", LINE), purpose="batch")
    odd = json.dumps({**json.loads(batch(f"batch_odd{len(str(status))}")), "status": status})
    c.batches.create(
        input_file_id=made.id, endpoint=CHAT, completion_window="24h", extra_headers=scripted(odd)
    )
    listed = httpx.get(gw.url + "/v1/batches", headers={"authorization": f"Bearer {MASTER}"})
    assert listed.status_code == 200, listed.text
