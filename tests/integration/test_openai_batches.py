"""OpenAI's Batch API through a gateway process, judged by the official ``openai`` SDK against
the mock provider: a batch file is uploaded, checked line by line and renamed to the
deployment's models; a batch is made from it, retrieved, listed and cancelled; its output file
is read through the gateway and its usage counted once, at the batch share of the price. Every
object is its creating key's (another key gets a 404 in OpenAI's shape, the master key sees
it); a key refused a model is refused the file; hostile ids and wrong types are 4xx."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, Final

import httpx
import openai
import pytest

from tests.support.procs import Proc, start_gateway
from tests.support.wait import until
from tests.unit.cache.redis_support import drop_prefix, shared_redis

MASTER = "sy-master-openai-batches-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
PRICE = {"input": 1.0, "output": 2.0}  # USD per million tokens
CHAT: Final = "/v1/chat/completions"


def config(mock: Proc) -> dict[str, Any]:
    return {
        "providers": {
            "oa": {"type": "openai", "base_url": mock.url + "/v1", "api_keys": ["sk-oa-batch"]},
            # The mock holds this provider's batches in progress (x-mock-ttft-ms: 10 minutes).
            "slow": {
                "type": "openai",
                "base_url": mock.url + "/v1",
                "api_keys": ["sk-slow-batch"],
                "headers": {"x-mock-ttft-ms": "600000"},
            },
            "an": {"type": "anthropic", "base_url": mock.url, "api_keys": ["sk-an"]},
            "demo": {"type": "mock"},  # the in-process mock of `serve --demo`
        },
        "models": {
            "gpt-a": {"deployments": [{"provider": "oa", "model": "gpt-a-up"}]},
            "gpt-b": {"deployments": [{"provider": "oa", "model": "gpt-b-up"}]},
            "gpt-slow": {"deployments": [{"provider": "slow", "model": "gpt-slow-up"}]},
            "claude-only": {"deployments": [{"provider": "an", "model": "claude-up"}]},
            "demo": {"deployments": [{"provider": "demo", "model": "mock-1"}]},
        },
        "pricing": {"models": {"gpt-a": PRICE, "gpt-b": PRICE, "gpt-slow": PRICE}},
        "storage": {"flush_interval": 0.05, "batch_file_mb": 0.05, "batches_per_key": 3},
    }


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(
        config(mock), tmp_path_factory.mktemp("oai-batches"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def new_key(gw: Proc, **body: Any) -> str:
    return new_key_and_id(gw, **body)[0]


def new_key_and_id(gw: Proc, **body: Any) -> tuple[str, str]:
    resp = httpx.post(gw.url + "/admin/keys", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()["key"], resp.json()["id"]


def client(gw: Proc, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def line(custom_id: str, model: str, url: str = CHAT, **extra: Any) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "hello batch"}]}
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body, **extra}


def jsonl(*lines: Any) -> bytes:
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def upload(c: openai.OpenAI, data: bytes) -> Any:
    return c.files.create(file=("requests.jsonl", data), purpose="batch")


def rows(gw: Proc, rid: str) -> list[dict[str, Any]]:
    got = httpx.get(gw.url + "/admin/logs", params={"request_id": rid}, headers=ADMIN)
    found: list[dict[str, Any]] = got.json()["rows"]
    return found


def test_a_batch_runs_end_to_end_and_its_output_is_accounted_once(gw: Proc) -> None:
    c = client(gw, new_key(gw, name="batcher"))
    made = upload(c, jsonl(line("one", "gpt-a"), line("two", "gpt-b"), line("x", "gpt-a")))
    assert made.id.startswith("file-") and made.purpose == "batch"
    assert made.filename == "requests.jsonl"
    assert c.files.retrieve(made.id).id == made.id
    assert made.id in [f.id for f in c.files.list()]
    sent = [json.loads(x) for x in c.files.content(made.id).content.splitlines()]
    assert [x["body"]["model"] for x in sent] == ["gpt-a-up", "gpt-b-up", "gpt-a-up"]

    batch = c.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    assert batch.id.startswith("batch_") and batch.input_file_id == made.id
    until(lambda: c.batches.retrieve(batch.id).status == "completed")
    done = c.batches.retrieve(batch.id)
    assert done.request_counts is not None and done.request_counts.completed == 3
    assert done.output_file_id is not None
    assert batch.id in [b.id for b in c.batches.list()]
    assert done.output_file_id in [f.id for f in c.files.list(purpose="batch_output")]

    raw = c.files.with_raw_response.content(done.output_file_id)
    rid = raw.headers["x-request-id"]
    out = {x["custom_id"]: x for x in map(json.loads, raw.parse().content.splitlines())}
    assert set(out) == {"one", "two", "x"}
    assert out["one"]["response"]["body"]["model"] == "gpt-a-up"

    def usage_rows() -> list[dict[str, Any]]:
        return [r for r in rows(gw, rid) if r["operation"] == "batches.usage"]

    until(lambda: len(usage_rows()) == 2)
    a = {r["model"]: r for r in usage_rows()}["gpt-a"]
    assert a["input_tokens"] > 0 and a["output_tokens"] > 0
    full = (a["input_tokens"] * PRICE["input"] + a["output_tokens"] * PRICE["output"]) / 1e6
    assert a["cost"] == pytest.approx(full / 2)  # the batch share of the price
    assert a["deployment"] == "oa/gpt-a-up"

    again = c.files.with_raw_response.content(done.output_file_id)
    assert len(again.parse().content.splitlines()) == 3
    rid2 = again.headers["x-request-id"]
    until(lambda: any(r["operation"] == "files.content" for r in rows(gw, rid2)))
    assert not [r for r in rows(gw, rid2) if r["operation"] == "batches.usage"]

    deleted = c.files.delete(made.id)
    assert deleted.id == made.id and deleted.deleted
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve(made.id)


def test_files_and_batches_belong_to_the_key_that_made_them(gw: Proc) -> None:
    mine = client(gw, new_key(gw, name="owner"))
    theirs = client(gw, new_key(gw, name="other"))
    master = client(gw, MASTER)
    made = upload(mine, jsonl(line("one", "gpt-a")))
    batch = mine.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    until(lambda: mine.batches.retrieve(batch.id).output_file_id is not None)
    output = mine.batches.retrieve(batch.id).output_file_id
    assert output is not None
    for ask in (
        lambda: theirs.files.retrieve(made.id),
        lambda: theirs.files.content(made.id),
        lambda: theirs.files.delete(made.id),
        lambda: theirs.files.content(output),
        lambda: theirs.batches.retrieve(batch.id),
        lambda: theirs.batches.cancel(batch.id),
        lambda: theirs.batches.create(
            input_file_id=made.id, endpoint=CHAT, completion_window="24h"
        ),
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            ask()
        assert isinstance(caught.value.body, dict) and "message" in caught.value.body
    assert made.id not in [f.id for f in theirs.files.list()]
    assert batch.id not in [b.id for b in theirs.batches.list()]
    assert master.files.retrieve(made.id).id == made.id
    assert batch.id in [b.id for b in master.batches.list()]
    assert mine.files.retrieve(made.id).id == made.id  # still there


def test_a_key_without_the_model_is_refused_the_file(gw: Proc) -> None:
    c = client(gw, new_key(gw, name="narrow", models=["gpt-b"]))
    with pytest.raises(openai.PermissionDeniedError):
        upload(c, jsonl(line("one", "gpt-b"), line("two", "gpt-a")))
    assert upload(c, jsonl(line("one", "gpt-b"))).purpose == "batch"


@pytest.mark.parametrize(
    "data",
    [
        b"not json\n",
        b"[1, 2]\n",
        jsonl({"method": "POST", "url": CHAT, "body": {"model": "gpt-a"}}),
        jsonl(line("one", "gpt-a", method="GET")),
        jsonl(line("one", "gpt-a", url="/v1/elsewhere")),
        jsonl(line("one", "gpt-a"), line("two", "gpt-a", url="/v1/embeddings")),
        jsonl(line("one", "gpt-a"), line("one", "gpt-a")),
        jsonl({"custom_id": 7, "method": "POST", "url": CHAT, "body": {"model": "gpt-a"}}),
        jsonl({"custom_id": "a", "method": "POST", "url": CHAT, "body": {"model": 7}}),
        jsonl({"custom_id": "a", "method": "POST", "url": CHAT, "body": "x"}),
        jsonl(line("one", "../../files")),
        jsonl(line("one", "no-such-model")),
        jsonl(line("one", "claude-only")),
        jsonl(line("one", "gpt-a"), line("two", "gpt-slow")),
        b"",
    ],
    ids=[
        "not-json", "not-object", "no-custom-id", "method-get", "other-url", "mixed-urls",
        "duplicate-custom-id", "custom-id-number", "model-number", "body-string",
        "hostile-model", "unknown-model", "not-openai", "two-providers", "empty",
    ],
)  # fmt: skip
def test_a_malformed_file_is_a_400(gw: Proc, data: bytes) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        upload(client(gw, MASTER), data)
    assert isinstance(caught.value.body, dict) and "message" in caught.value.body


def test_a_file_over_the_bound_is_a_413(gw: Proc) -> None:
    big = jsonl(*(line(f"n{i}", "gpt-a") for i in range(1000)))
    assert len(big) > 0.05 * 1024 * 1024
    with pytest.raises(openai.APIStatusError) as caught:
        upload(client(gw, MASTER), big)
    assert caught.value.status_code == 413


def test_a_purpose_other_than_batch_is_a_400(gw: Proc) -> None:
    with pytest.raises(openai.BadRequestError):
        client(gw, MASTER).files.create(
            file=("x.jsonl", jsonl(line("a", "gpt-a"))), purpose="fine-tune"
        )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"input_file_id": 7, "endpoint": "/v1/chat/completions", "completion_window": "24h"}',
        b'{"input_file_id": "file-x", "endpoint": ["x"], "completion_window": "24h"}',
        b'{"input_file_id": "file-x", "endpoint": "/v1/chat/completions"}',
        b'{"input_file_id": "f", "endpoint": "e", "completion_window": "24h", "metadata": 1}',
    ],
    ids=["not-json", "array", "file-id-number", "endpoint-list", "no-window", "metadata-number"],
)
def test_a_wrong_typed_batch_is_a_400(gw: Proc, body: bytes) -> None:
    resp = httpx.post(
        gw.url + "/v1/batches",
        content=body,
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_a_batch_for_another_endpoint_than_its_file_is_a_400(gw: Proc) -> None:
    c = client(gw, MASTER)
    made = upload(c, jsonl(line("one", "gpt-a")))
    with pytest.raises(openai.BadRequestError):
        c.batches.create(input_file_id=made.id, endpoint="/v1/embeddings", completion_window="24h")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/files/..%2F..%2Fbatches",
        "/v1/files/file-x%3Fa=1",
        "/v1/files/file-x%23y/content",
        "/v1/batches/..%2Ffiles",
        "/v1/batches/" + "b" * 300,
        "/v1/batches/batch%20x",
    ],
)
def test_a_hostile_id_is_a_404_in_openais_shape(gw: Proc, path: str) -> None:
    resp = httpx.get(gw.url + path, headers=ADMIN)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["message"]


def test_a_batch_in_progress_is_cancelled_at_its_provider(gw: Proc) -> None:
    c = client(gw, new_key(gw, name="canceller"))
    made = upload(c, jsonl(line("one", "gpt-slow")))
    batch = c.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    assert batch.status == "in_progress"
    assert c.batches.cancel(batch.id).status == "cancelled"
    assert c.batches.retrieve(batch.id).status == "cancelled"


def test_the_in_process_mock_serves_batches_too(gw: Proc) -> None:
    c = client(gw, MASTER)
    made = upload(c, jsonl(line("one", "demo")))
    batch = c.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    until(lambda: c.batches.retrieve(batch.id).status == "completed")
    output = c.batches.retrieve(batch.id).output_file_id
    assert output is not None
    (only,) = c.files.content(output).content.splitlines()
    assert json.loads(only)["response"]["body"]["model"] == "mock-1"


def test_a_listing_pages_through_the_keys_files_and_batches_newest_first(gw: Proc) -> None:
    c = client(gw, new_key(gw, name="pager"))
    made = [upload(c, jsonl(line(f"n{i}", "gpt-a"))).id for i in range(3)]
    first = c.files.list(limit=2)
    assert [f.id for f in first.data] == made[::-1][:2] and first.has_more
    assert [f.id for f in c.files.list(limit=2)] == made[::-1]  # the SDK follows `after`
    assert [f.id for f in c.files.list(purpose="batch_output")] == []
    batches = [
        c.batches.create(input_file_id=f, endpoint=CHAT, completion_window="24h").id for f in made
    ]
    page = c.batches.list(limit=1)
    assert [b.id for b in page.data] == batches[-1:] and page.has_more
    assert [b.id for b in c.batches.list(limit=1)] == batches[::-1]


def test_a_key_holds_at_most_batches_per_key_files(gw: Proc) -> None:
    c = client(gw, new_key(gw, name="hoarder"))
    first, _, _ = (upload(c, jsonl(line("a", "gpt-a"))) for _ in "123")
    with pytest.raises(openai.RateLimitError) as caught:
        upload(c, jsonl(line("a", "gpt-a")))
    assert caught.value.response.headers["x-should-retry"] == "false"  # deleting helps
    c.files.delete(first.id)
    assert upload(c, jsonl(line("a", "gpt-a"))).id


@pytest.fixture(scope="module")
def gw_redis(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """Budgets on the shared (Redis) limiter."""
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    conf = config(mock)
    conf["limits"] = {"backend": "redis", "redis_url": shared_redis(), "key_prefix": prefix}
    tmp = tmp_path_factory.mktemp("oai-batches-redis")
    proc = start_gateway(conf, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()
    drop_prefix(prefix)


@pytest.fixture
def fixtures(request: pytest.FixtureRequest) -> pytest.FixtureRequest:
    return request


@pytest.mark.parametrize("limiter", ["memory", "redis"])
def test_output_settles_the_key_budget_and_a_spent_budget_refuses_the_next_batch(
    limiter: str, fixtures: pytest.FixtureRequest
) -> None:
    gw: Proc = fixtures.getfixturevalue("gw" if limiter == "memory" else "gw_redis")
    key, key_id = new_key_and_id(gw, name="budgeted", budget=0.000001, budget_period="day")
    c = client(gw, key)
    made = upload(c, jsonl(line("a", "gpt-a")))
    batch = c.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    until(lambda: c.batches.retrieve(batch.id).output_file_id is not None)
    output = c.batches.retrieve(batch.id).output_file_id
    assert output is not None
    raw = c.files.with_raw_response.content(output)
    assert len(raw.parse().content.splitlines()) == 1
    rid = raw.headers["x-request-id"]
    until(lambda: any(r["operation"] == "batches.usage" for r in rows(gw, rid)))
    (used,) = [r for r in rows(gw, rid) if r["operation"] == "batches.usage"]

    def spent() -> float:
        shown = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()
        return float(shown["spend"]["spent"])

    until(lambda: spent() > 0)
    assert spent() == pytest.approx(used["cost"], abs=1e-6)  # shown rounded
    with pytest.raises(openai.RateLimitError) as caught:
        c.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    assert "Budget exhausted" in caught.value.message


def test_a_request_without_a_key_is_refused_in_openais_shape(gw: Proc) -> None:
    resp = httpx.get(gw.url + "/v1/files")
    assert resp.status_code == 401
    assert resp.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "kind", "body"),
    [
        ("/v1/files", "application/json", b'{"purpose": "batch"}'),
        ("/v1/files", "multipart/form-data; boundary=x", b"--x\r\nnot a part"),
        (
            "/v1/files",
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--x--\r\n',
        ),
        (
            "/v1/files",
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
            + jsonl(line("a", "gpt-a"))
            + b"\r\n--x--\r\n",
        ),
    ],
    ids=["json-body", "broken-form", "no-file", "no-purpose"],
)
def test_an_upload_that_is_no_batch_form_is_a_400(
    gw: Proc, path: str, kind: str, body: bytes
) -> None:
    resp = httpx.post(gw.url + path, content=body, headers={**ADMIN, "content-type": kind})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "query",
    [
        "/v1/files?limit=abc",
        "/v1/files?limit=0",
        "/v1/files?order=oldest",
        "/v1/batches?limit=101",
        "/v1/batches?limit=%F0",
    ],
)
def test_a_wrong_typed_listing_is_a_400(gw: Proc, query: str) -> None:
    resp = httpx.get(gw.url + query, headers=ADMIN)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["type"] == "invalid_request_error"
