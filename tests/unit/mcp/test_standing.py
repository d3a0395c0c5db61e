"""When a key's MCP requests and sessions end (``turnout.mcp.standing``): its secret, its team
or its MCP rules changed, it was revoked or it expired; its other settings leave them alone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from turnout.auth.directory import Directory
from turnout.auth.records import KeyRecord, TeamRecord
from turnout.mcp.access import Access, Layer
from turnout.mcp.standing import LiveRequests, standing_of, still

RULES = {"mcp": {"deny": ["alpha+note://*"], "tool_rpm": 5}}
KEY = KeyRecord(id="k1", hash="aa" * 32, prefix="sk-1", team="t", metadata=RULES)
TEAM = TeamRecord(name="t", metadata={"mcp": {"servers": ["alpha"]}})


def directory(key: KeyRecord = KEY, team: TeamRecord = TEAM) -> Directory:
    found = Directory()
    found.put(keys=[key], teams=[team])
    return found


def access() -> Access:
    return Access("k1", "t", Layer.of(KEY.metadata), Layer.of(TEAM.metadata))


NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("key", "team", "stands"),
    [
        (KEY, TEAM, True),
        (dataclasses.replace(KEY, name="renamed"), TEAM, True),
        (dataclasses.replace(KEY, metadata={"mcp": {**RULES["mcp"], "tool_rpm": 9}}), TEAM, True),
        (dataclasses.replace(KEY, revoked_at=NOW), TEAM, False),
        (dataclasses.replace(KEY, hash="bb" * 32), TEAM, False),  # rotated
        (dataclasses.replace(KEY, expires_at=NOW - timedelta(seconds=1)), TEAM, False),
        (dataclasses.replace(KEY, metadata={"mcp": {"deny": []}}), TEAM, False),
        (KEY, dataclasses.replace(TEAM, metadata={}), False),
        (KEY, dataclasses.replace(TEAM, deleted_at=NOW), False),
    ],
)
def test_what_ends_a_keys_standing(key: KeyRecord, team: TeamRecord, stands: bool) -> None:
    was = standing_of(directory(), access())
    assert was is not None
    assert still(directory(key, team), "k1", was, datetime.now(UTC)) is stands


def test_the_master_key_and_an_open_gateway_have_none() -> None:
    assert standing_of(directory(), Access()) is None
    assert standing_of(directory(), Access("master")) is None


async def test_a_sweep_cancels_only_the_requests_of_keys_gone() -> None:
    live = LiveRequests()
    found = directory()
    was = standing_of(found, access())
    assert was is not None
    with anyio.fail_after(30), live.held("k1", was) as scope:
        live.sweep(found)
        await anyio.lowlevel.checkpoint()  # still standing: not cancelled
        found.put(keys=[dataclasses.replace(KEY, revoked_at=datetime.now(UTC))])
        live.sweep(found)
        await anyio.sleep_forever()  # until the sweep's cancellation
    assert scope.cancelled_caught
    assert not live.live
