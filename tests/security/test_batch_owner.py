"""Whose budget a Message Batch's results are charged to: the batch owner's, whoever reads
them. The results' usage is counted once, on the first read; when that read was the master
key's or an admin key's, it was charged to the reader (the master key: to nobody), so the
owner's budget and its team's were never charged for the batch."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.test_message_batches import (
    ADMIN,
    MASTER,
    client,
    ended,
    gw,
    new_key,
    request,
    rows,
)
from tests.support.procs import Proc
from tests.support.wait import until

__all__ = ["gw"]  # the gateway fixture of the Message Batches tests


def spent(gw: Proc, key_id: str) -> float:
    shown = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()
    return float(shown["spend"]["spent"])


@pytest.mark.parametrize("reader", ["master", "admin"])
def test_results_read_by_another_key_are_charged_to_the_batch_owner(gw: Proc, reader: str) -> None:
    team = f"msg-batchers-{reader}"
    made_team = httpx.post(gw.url + "/admin/teams", json={"name": team}, headers=ADMIN)
    assert made_team.is_success, made_team.text
    key, key_id = new_key(gw, name="owner", team=team, budget=100.0, budget_period="day")
    c = client(gw, key)
    batch = c.messages.batches.create(requests=[request("a", "claude-a"), request("b", "claude-a")])
    until(lambda: ended(c, batch.id))

    other = MASTER if reader == "master" else new_key(gw, name="ops", scopes=["admin"])[0]
    raw = client(gw, other).messages.batches.with_raw_response.results(batch.id)
    assert [r.custom_id for r in raw.parse()] == ["a", "b"]
    rid = raw.headers["x-request-id"]

    def usage() -> list[dict[str, Any]]:
        return [r for r in rows(gw, rid) if r["operation"] == "batches.usage"]

    until(lambda: len(usage()) == 1)
    (row,) = usage()
    assert (row["gateway_key"], row["team"]) == (key_id, team)
    assert row["cost"] > 0
    until(lambda: spent(gw, key_id) > 0)
    assert spent(gw, key_id) == pytest.approx(row["cost"], abs=1e-6)
