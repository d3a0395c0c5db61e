"""llmproxy's ``/cache`` routes: the admin cache routes under its path, behind the same guard."""

from __future__ import annotations

import httpx

from turnout.app import create_app
from turnout.config import compile_config
from turnout.config.load import parse_raw

MASTER = "master-key-0123456789abcdef"


async def test_cache_stats_and_purge_answer_at_slash_cache_with_the_admin_guard() -> None:
    raw = {
        "providers": {"p": {"type": "mock"}},
        "models": {"m": {"deployments": [{"provider": "p"}], "cache": True}},
        "storage": {"enabled": False},
        "auth": {"master_key": MASTER},
    }
    app = create_app(compile_config(parse_raw(raw, {}, "t")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/cache")).status_code == 401
        assert (await client.delete("/cache")).status_code == 401
        auth = {"authorization": f"Bearer {MASTER}"}
        stats = await client.get("/cache", headers=auth)
        assert stats.status_code == 200 and "enabled" in stats.json()
        assert stats.json() == (await client.get("/admin/cache/stats", headers=auth)).json()
        purged = await client.delete("/cache", headers=auth)
        assert purged.status_code == 200 and "deleted" in purged.json()
        bad = await client.delete("/cache", params={"key": "nope"}, headers=auth)
        assert bad.status_code == 400
        assert (await client.get("/cachex", headers=auth)).status_code == 404
