"""Request ids name stored state (captures, the request log, labels): a tenant must not be able
to guess another's, nor make the admin read its own capture under another's id.

A client may choose its own ``x-request-id`` (a plain token: it is echoed and sent upstream),
so ids are not unique across tenants; the gateway's own must not be predictable from the ones
a key has seen, and a capture is found by its exact id and, from the request log, its key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

MASTER = "ids-master-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "up"}]}},
        "routing": {"max_attempts": 1},
        "capture": {"enabled": True, "dir": "captures"},
    }
    proc = start_gateway(
        config, Path(tmp_path_factory.mktemp("ids")), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def _key(gw: Proc, team: str) -> tuple[str, str]:
    """A key of a team of its own (another tenant)."""
    made = httpx.post(f"{gw.url}/admin/teams", json={"name": team}, headers=ADMIN)
    assert made.status_code == 201, made.text
    resp = httpx.post(f"{gw.url}/admin/keys", json={"team": team}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()["key"], resp.json()["id"]


def _ask(gw: Proc, key: str, text: str, rid: str | None = None) -> str:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
    headers = {"x-request-id": rid} if rid else {}
    reply = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": text}], extra_headers=headers
    )
    return reply.headers["x-request-id"]


def _capture(gw: Proc, rid: str, **query: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def written() -> bool:
        resp = httpx.get(f"{gw.url}/admin/captures/{rid}", params=query, headers=ADMIN)
        assert resp.status_code in (200, 404), resp.text
        if resp.status_code == 200:
            found.update(resp.json())
        return resp.status_code == 200

    until(written, limit=15, step=0.05)
    return found


def test_the_gateways_request_ids_cannot_be_predicted(gw: Proc) -> None:
    """Before: a per-process prefix and a counter. A key that saw its own id knew the next
    one the gateway would give another tenant (its id plus one)."""
    a, _ = _key(gw, "ids-a")
    b, _ = _key(gw, "ids-b")
    seen = _ask(gw, b, "hi")
    theirs = _ask(gw, a, "hi")
    prefix, count = seen[:12], int(seen[12:], 16) if len(seen) > 12 else 0
    assert theirs != f"{prefix}{count + 1:010x}"
    ids = [_ask(gw, b, "hi") for _ in range(8)]
    assert len(set(ids)) == len(ids)
    shared = next((i for i in range(22) if len({r[: i + 1] for r in ids}) > 1), 22)
    assert shared < 4  # the ids share no prefix but by chance


def test_a_capture_is_read_by_its_exact_id_and_key(gw: Proc) -> None:
    """Before: captures were found by a glob of the id (sanitized, cut at 64 characters), so a
    key whose own id ended in ``_<another's id>`` (or was that id) was shown, as the newest,
    in the other call's detail view."""
    a, a_id = _key(gw, "cap-a")
    b, _ = _key(gw, "cap-b")
    theirs = _ask(gw, a, "the victim's prompt")
    _capture(gw, theirs)
    _ask(gw, b, "planted by b, suffix", rid=f"zz_{theirs}")
    _ask(gw, b, "planted by b, slash", rid=f"zz/{theirs}")
    _capture(gw, f"zz_{theirs}")
    shown = _capture(gw, theirs)
    assert shown["captures"] == 1 and "victim" in str(shown["capture"]["request"]["body"])
    _ask(gw, b, "planted by b, same id", rid=theirs)
    # b's capture with the very same id is written
    until(lambda: _capture(gw, theirs)["captures"] >= 2, limit=15, step=0.05)
    mine = _capture(gw, theirs, key=a_id)  # as the request log's detail view asks
    assert mine["captures"] == 1 and "victim" in str(mine["capture"]["request"]["body"])
    assert mine["capture"]["key_id"] == a_id
