from __future__ import annotations

import httpx

from turnout.app import create_app
from turnout.config import compile_config
from turnout.config.load import parse_raw


async def test_admin_config_masks_keys_and_docs_are_served() -> None:
    raw = {
        "providers": {"p": {"type": "openai", "api_keys": ["sk-live-abcdefghijklmnopqrstuvwxyz"]}},
        "models": {"m": {"deployments": [{"provider": "p", "model": "up"}]}},
        "storage": {"enabled": False},  # no shared database file: no gateway keys, admin open
    }
    app = create_app(compile_config(parse_raw(raw, {}, "t")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/admin/config")
        assert r.status_code == 200
        body = r.json()
        assert body["models"]["m"]["deployments"][0]["model"] == "up"
        assert "abcdefghijklmnop" not in r.text and body["providers"]["p"]["api_keys"] == [
            "sk-…wxyz"
        ]
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/admin/nothing")).status_code == 404
