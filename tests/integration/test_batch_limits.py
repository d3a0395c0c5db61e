"""A key's request limits on the batch routes, judged by the official ``openai`` and
``anthropic`` SDKs through a gateway process: every request to OpenAI's Files and Batches and
to Anthropic's Message Batches counts once against the key's ``rpm`` and holds one of its
``max_parallel`` slots while it runs; past them, a 429 with ``Retry-After`` and the
``x-ratelimit-*`` headers in the client's error shape, as on the model routes
(docs/openai-batches.md, docs/batches.md)."""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import anthropic
import httpx
import openai
import pytest

from tests.integration.test_message_batches import batches_config
from tests.integration.test_message_batches import request as an_request
from tests.integration.test_openai_batches import CHAT, jsonl, line, upload
from tests.integration.test_openai_batches import config as openai_config
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until
from tests.unit.cache.redis_support import drop_prefix, shared_redis

MASTER = "sy-master-batch-limits-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}


def config(mock: Proc) -> dict[str, Any]:
    conf = openai_config(mock)
    an = batches_config(mock)
    conf["providers"]["an"] = an["providers"]["an"]
    conf["models"]["claude-a"] = an["models"]["claude-a"]
    conf["pricing"]["models"]["claude-a"] = an["pricing"]["models"]["claude-a"]
    conf["storage"]["batches_per_key"] = 10
    return conf


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("batch-limits")
    proc = start_gateway(config(mock), tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gw_redis(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """The same limits on the shared (Redis) limiter."""
    prefix = f"turnout-test:{uuid.uuid4().hex[:8]}:"
    conf = config(mock)
    conf["limits"] = {"backend": "redis", "redis_url": shared_redis(), "key_prefix": prefix}
    tmp = tmp_path_factory.mktemp("batch-limits-redis")
    proc = start_gateway(conf, tmp, env={"TURNOUT_MASTER_KEY": MASTER})
    yield proc
    proc.stop()
    drop_prefix(prefix)


@pytest.fixture(params=["memory", "redis"])
def either(request: pytest.FixtureRequest) -> Proc:
    """A gateway on each limiter."""
    found: Proc = request.getfixturevalue("gw" if request.param == "memory" else "gw_redis")
    return found


def new_key(gw: Proc, **body: Any) -> tuple[str, str]:
    resp = httpx.post(gw.url + "/admin/keys", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()["key"], resp.json()["id"]


def oa(gw: Proc, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0)


def an(gw: Proc, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)


def test_every_openai_batch_route_counts_against_the_keys_rpm(either: Proc) -> None:
    gw = either
    key, _ = new_key(gw, name="oa-rpm", rpm=3)
    c = oa(gw, key)
    made = upload(c, jsonl(line("a", "gpt-a")))  # 1
    batch = c.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")  # 2
    raw = c.batches.with_raw_response.retrieve(batch.id)  # 3: the last the minute admits
    assert raw.headers["x-ratelimit-limit-requests"] == "3"
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    calls: dict[str, Callable[[], object]] = {
        "files.upload": lambda: upload(c, jsonl(line("b", "gpt-a"))),
        "files.list": lambda: c.files.list(),
        "files.retrieve": lambda: c.files.retrieve(made.id),
        "files.content": lambda: c.files.content(made.id),
        "files.delete": lambda: c.files.delete(made.id),
        "batches.create": lambda: c.batches.create(
            input_file_id=made.id, endpoint=CHAT, completion_window="24h"
        ),
        "batches.list": lambda: c.batches.list(),
        "batches.retrieve": lambda: c.batches.retrieve(batch.id),
        "batches.cancel": lambda: c.batches.cancel(batch.id),
    }
    for name, call in calls.items():
        with pytest.raises(openai.RateLimitError) as caught:
            call()
        headers = caught.value.response.headers
        assert float(headers["retry-after"]) > 0, name
        assert headers["x-ratelimit-limit-requests"] == "3", name
        assert headers["x-ratelimit-remaining-requests"] == "0", name
        assert caught.value.type == "rate_limit_error" or caught.value.code, name
        assert "requests per minute" in caught.value.message, name
    # The refusals counted nowhere and held nothing: the master key is not limited.
    assert oa(gw, MASTER).files.retrieve(made.id).id == made.id


def test_every_message_batches_route_counts_against_the_keys_rpm(gw: Proc) -> None:
    key, _ = new_key(gw, name="an-rpm", rpm=2)
    c = an(gw, key)
    batch = c.messages.batches.create(requests=[an_request("a", "claude-a")])  # 1
    raw = c.messages.batches.with_raw_response.retrieve(batch.id)  # 2
    assert raw.headers["x-ratelimit-limit-requests"] == "2"
    calls: dict[str, Callable[[], object]] = {
        "create": lambda: c.messages.batches.create(requests=[an_request("b", "claude-a")]),
        "list": lambda: c.messages.batches.list(),
        "retrieve": lambda: c.messages.batches.retrieve(batch.id),
        "cancel": lambda: c.messages.batches.cancel(batch.id),
        "results": lambda: list(c.messages.batches.results(batch.id)),
        "delete": lambda: c.messages.batches.delete(batch.id),
    }
    for name, call in calls.items():
        with pytest.raises(anthropic.RateLimitError) as caught:
            call()
        response = caught.value.response
        assert float(response.headers["retry-after"]) > 0, name
        assert response.headers["x-ratelimit-limit-requests"] == "2", name
        body = response.json()
        assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error", name
    # The SDK's results() asks for the batch first: the results route itself, asked directly.
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    results = httpx.get(f"{gw.url}/v1/messages/batches/{batch.id}/results", headers=headers)
    assert results.status_code == 429 and results.json()["error"]["type"] == "rate_limit_error"
    assert results.headers["x-ratelimit-limit-requests"] == "2"


def test_a_batch_request_in_flight_holds_a_max_parallel_slot(either: Proc) -> None:
    """An upload whose body is still arriving holds the key's one slot: another request of
    the key gets a 429 meanwhile; once it has ended the slot is free again."""
    gw = either
    key, _ = new_key(gw, name="parallel", max_parallel=1)
    c = oa(gw, key)
    data = jsonl(line("a", "gpt-a"))
    head = (
        b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'
    )
    rest = data + b"\r\n--x--\r\n"
    url = urlsplit(gw.url)
    held: list[http.client.HTTPConnection] = []

    def start_upload() -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
        conn.putrequest("POST", "/v1/files")
        conn.putheader("authorization", f"Bearer {key}")
        conn.putheader("content-type", "multipart/form-data; boundary=x")
        conn.putheader("content-length", str(len(head) + len(rest)))
        conn.endheaders(head)
        return conn

    def answered_early(conn: http.client.HTTPConnection) -> bool:
        """The gateway answered before the body ended: the upload was refused (a probe
        held the slot as it arrived)."""
        assert conn.sock is not None
        try:
            return bool(conn.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except BlockingIOError:
            return False

    def slot_held() -> bool:
        if held and answered_early(held[0]):
            held.pop().close()
        if not held:
            held.append(start_upload())
        try:
            c.batches.list()
        except openai.RateLimitError as exc:
            return "requests in flight" in exc.message
        return False

    try:
        until(slot_held, limit=30)
        conn = held[0]
        conn.send(rest)
        answer = conn.getresponse()
        body = answer.read()
        assert answer.status == 200, body
    finally:
        for conn in held:
            conn.close()
    made = json.loads(body)["id"]

    def admitted() -> bool:  # the slot is freed once the answer has been sent
        try:
            return c.files.retrieve(made) is not None
        except openai.RateLimitError:
            return False

    until(admitted)


def test_files_list_takes_openais_parameters_and_the_sdk_pages_through(gw: Proc) -> None:
    key, _ = new_key(gw, name="lister")
    c = oa(gw, key)
    made = [upload(c, jsonl(line(f"n{i}", "gpt-a"))).id for i in range(3)]
    assert [f.id for f in c.files.list(order="asc")] == made
    assert [f.id for f in c.files.list(order="desc")] == made[::-1]
    first = c.files.list(order="asc", limit=2)
    assert [f.id for f in first.data] == made[:2] and first.has_more
    assert [f.id for f in c.files.list(order="asc", limit=1)] == made  # `after`, ascending
    assert [f.id for f in c.files.list(order="asc", after=made[0])] == made[1:]
    assert [f.id for f in c.files.list(order="desc", after=made[2], limit=1)] == made[1::-1]
    assert [f.id for f in c.files.list(purpose="batch", order="asc", limit=1)] == made
    assert [f.id for f in c.files.list(purpose="batch_output")] == []
    assert [f.id for f in c.files.list(purpose="fine-tune")] == []  # none held: an empty list
    batches = [
        c.batches.create(input_file_id=f, endpoint=CHAT, completion_window="24h").id for f in made
    ]
    assert [b.id for b in c.batches.list(limit=2)] == batches[::-1]
    assert [b.id for b in c.batches.list(after=batches[2])] == batches[1::-1]


@pytest.mark.parametrize(
    "query",
    ["order=sideways", "order=", "limit=10001", "limit=-1", "after=no%20such"],
)
def test_a_wrong_files_listing_is_a_4xx_in_openais_shape(gw: Proc, query: str) -> None:
    resp = httpx.get(f"{gw.url}/v1/files?{query}", headers=ADMIN)
    assert resp.status_code in (400, 404), resp.text
    assert resp.json()["error"]["message"]


def test_anthropic_listing_pages_both_ways(gw: Proc) -> None:
    key, _ = new_key(gw, name="an-lister")
    c = an(gw, key)
    made = [c.messages.batches.create(requests=[an_request("a", "claude-a")]).id for _ in "123"]
    assert [b.id for b in c.messages.batches.list(limit=1)] == made[::-1]
    assert [b.id for b in c.messages.batches.list(after_id=made[2])] == made[1::-1]
    assert [b.id for b in c.messages.batches.list(before_id=made[0])] == made[:0:-1]
    back = c.messages.batches.list(before_id=made[0], limit=1)
    assert [b.id for b in back.data] == made[1:2] and back.has_more  # the one next to it
    assert [b.id for b in c.messages.batches.list(before_id=made[0], limit=1)] == made[1:]
    with pytest.raises(anthropic.BadRequestError):  # one direction at a time
        c.messages.batches.list(after_id=made[2], before_id=made[0])


def rows(gw: Proc, rid: str) -> list[dict[str, Any]]:
    got = httpx.get(gw.url + "/admin/logs", params={"request_id": rid}, headers=ADMIN)
    found: list[dict[str, Any]] = got.json()["rows"]
    return found


def team_spent(gw: Proc, team: str) -> float:
    shown = httpx.get(f"{gw.url}/admin/teams/{team}", headers=ADMIN).json()
    return float(shown["spend"]["spent"])


def test_a_revoked_owners_batch_is_read_by_an_admin_and_charged_to_the_owner_and_team(
    gw: Proc,
) -> None:
    """A revoked key is refused its batches at once (401 in each client's shape, as on every
    route); the batches stay the gateway's to read (the master key, admin keys), and what
    their results used is charged as ever: rows under the owner's key and team, settled on
    the team's budget (and the key's own), as a restarted gateway would count them from the
    request log."""
    team = f"batchteam-{uuid.uuid4().hex[:6]}"
    made = httpx.post(gw.url + "/admin/teams", json={"name": team, "budget": 100}, headers=ADMIN)
    assert made.status_code == 201, made.text
    key, key_id = new_key(gw, name="leaver", team=team, budget=50)
    # Anthropic's Message Batches.
    c = an(gw, key)
    batch = c.messages.batches.create(requests=[an_request("a", "claude-a")])
    o = oa(gw, key)
    upload_id = upload(o, jsonl(line("a", "gpt-a"))).id
    obatch = o.batches.create(input_file_id=upload_id, endpoint=CHAT, completion_window="24h")
    revoked = httpx.post(f"{gw.url}/admin/keys/{key_id}/revoke", headers=ADMIN)
    assert revoked.status_code in (200, 204), revoked.text
    with pytest.raises(anthropic.AuthenticationError):
        c.messages.batches.retrieve(batch.id)
    with pytest.raises(openai.AuthenticationError):
        o.batches.retrieve(obatch.id)
    admin = an(gw, MASTER)
    until(lambda: admin.messages.batches.retrieve(batch.id).processing_status == "ended")
    before = team_spent(gw, team)
    raw = admin.messages.batches.with_raw_response.results(batch.id)
    assert [r.custom_id for r in raw.parse()] == ["a"]
    rid = raw.headers["x-request-id"]
    until(lambda: any(r["operation"] == "batches.usage" for r in rows(gw, rid)))
    (used,) = [r for r in rows(gw, rid) if r["operation"] == "batches.usage"]
    assert (used["gateway_key"], used["team"]) == (key_id, team) and used["cost"] > 0
    until(lambda: team_spent(gw, team) > before)
    assert team_spent(gw, team) == pytest.approx(before + used["cost"], abs=1e-6)
    # OpenAI's Batch API: the same.
    master = oa(gw, MASTER)
    until(lambda: master.batches.retrieve(obatch.id).output_file_id is not None)
    output = master.batches.retrieve(obatch.id).output_file_id
    assert output is not None
    before = team_spent(gw, team)
    content = master.files.with_raw_response.content(output)
    assert len(content.parse().content.splitlines()) == 1
    rid = content.headers["x-request-id"]
    until(lambda: any(r["operation"] == "batches.usage" for r in rows(gw, rid)))
    (used,) = [r for r in rows(gw, rid) if r["operation"] == "batches.usage"]
    assert (used["gateway_key"], used["team"]) == (key_id, team) and used["cost"] > 0
    until(lambda: team_spent(gw, team) > before)
    assert team_spent(gw, team) == pytest.approx(before + used["cost"], abs=1e-6)
