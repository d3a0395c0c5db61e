"""Whose budget an OpenAI batch output is charged to: the batch owner's, whoever reads it.

An output file's usage is counted once, on its first read. When that read was the master
key's or an admin key's, the usage used to be charged to the reader (or to nobody), so the
owner's budget and its team's were never charged for the batch. And a key's uploads made at
once stay within its cap (``storage.batches_per_key``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest

from tests.integration.test_openai_batches import (
    ADMIN,
    CHAT,
    MASTER,
    client,
    config,
    jsonl,
    line,
    new_key_and_id,
    rows,
    upload,
)
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(
        config(mock), tmp_path_factory.mktemp("oai-owner"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def spent(gw: Proc, key_id: str) -> float:
    shown = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()
    return float(shown["spend"]["spent"])


@pytest.mark.parametrize("reader", ["master", "admin"])
def test_the_output_read_by_another_key_is_charged_to_the_batch_owner(
    gw: Proc, reader: str
) -> None:
    team = f"batchers-{reader}"
    made_team = httpx.post(gw.url + "/admin/teams", json={"name": team}, headers=ADMIN)
    assert made_team.is_success, made_team.text
    key, key_id = new_key_and_id(gw, name="owner", team=team, budget=100.0, budget_period="day")
    c = client(gw, key)
    made = upload(c, jsonl(line("a", "gpt-a"), line("b", "gpt-a")))
    batch = c.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    until(lambda: c.batches.retrieve(batch.id).output_file_id is not None)
    output = c.batches.retrieve(batch.id).output_file_id
    assert output is not None

    other = MASTER if reader == "master" else new_key_and_id(gw, scopes=["admin"])[0]
    raw = client(gw, other).files.with_raw_response.content(output)
    assert len(raw.parse().content.splitlines()) == 2
    rid = raw.headers["x-request-id"]

    def usage() -> list[dict[str, Any]]:
        return [r for r in rows(gw, rid) if r["operation"] == "batches.usage"]

    until(lambda: len(usage()) == 1)
    (row,) = usage()
    assert (row["gateway_key"], row["team"]) == (key_id, team)
    assert row["cost"] > 0
    until(lambda: spent(gw, key_id) > 0)
    assert spent(gw, key_id) == pytest.approx(row["cost"], abs=1e-6)
    # The owner's own read afterwards counts nothing more.
    again = c.files.with_raw_response.content(output)
    assert len(again.parse().content.splitlines()) == 2
    rid2 = again.headers["x-request-id"]
    until(lambda: any(r["operation"] == "files.content" for r in rows(gw, rid2)))
    assert not [r for r in rows(gw, rid2) if r["operation"] == "batches.usage"]


def test_a_key_reading_another_keys_output_is_still_refused(gw: Proc) -> None:
    key, _ = new_key_and_id(gw, name="owner2")
    c = client(gw, key)
    made = upload(c, jsonl(line("a", "gpt-a")))
    batch = c.batches.create(input_file_id=made.id, endpoint=CHAT, completion_window="24h")
    until(lambda: c.batches.retrieve(batch.id).output_file_id is not None)
    output = c.batches.retrieve(batch.id).output_file_id
    assert output is not None
    stranger = client(gw, new_key_and_id(gw, name="stranger")[0])
    with pytest.raises(openai.NotFoundError):
        stranger.files.content(output)


def test_concurrent_uploads_stay_within_the_keys_cap(gw: Proc) -> None:
    """The cap (3 here) was checked before the upload was sent upstream and recorded after:
    uploads at once all passed the check."""
    key, _ = new_key_and_id(gw, name="racer")
    c = client(gw, key)
    start = threading.Barrier(8)

    def one(_: int) -> bool:
        start.wait()
        try:
            upload(c, jsonl(line("a", "gpt-a")))
        except openai.RateLimitError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        made = sum(pool.map(one, range(8)))
    assert made <= 3
    assert len(c.files.list().data) == made
