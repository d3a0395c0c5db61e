"""What a browser may do with the admin API's answers: none is stored in a cache, sniffed as
another type, framed by another site, or named in a Referer; through a real gateway with the
official SDK's traffic, a key's secret in the answer that made it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway

MASTER = "answers-master-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}
FRAMING = "frame-ancestors 'none'"


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "up"}]}},
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("answers"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def hardened(resp: httpx.Response, *, stored: bool = False) -> None:
    """The headers every admin answer carries; ``stored``: a file a cache may keep."""
    where = f"{resp.request.method} {resp.request.url.path} ({resp.status_code})"
    assert resp.headers.get("x-content-type-options") == "nosniff", where
    assert resp.headers.get("x-frame-options") == "DENY", where
    assert FRAMING in resp.headers.get("content-security-policy", ""), where
    assert resp.headers.get("referrer-policy") == "no-referrer", where
    if not stored:
        assert resp.headers.get("cache-control") == "no-store", where
    for name in ("x-frame-options", "cache-control", "content-security-policy"):
        assert len(resp.headers.get_list(name)) <= 1, (where, name)  # never twice


def test_every_admin_answer_is_kept_out_of_caches_and_frames(gw: Proc) -> None:
    with httpx.Client(base_url=gw.url, timeout=10) as client:
        made = client.post("/admin/keys", headers=ADMIN, json={"name": "fresh"})
        assert made.status_code == 201 and made.json()["key"].startswith("sk-")
        hardened(made)  # the new key's secret: never in a cache
        rotated = client.post(f"/admin/keys/{made.json()['id']}/rotate", headers=ADMIN)
        assert rotated.status_code == 200
        hardened(rotated)
        for path in ("/admin/keys", "/admin/config", "/admin/logs", "/admin/health"):
            resp = client.get(path, headers=ADMIN)
            assert resp.status_code == 200, (path, resp.text)
            hardened(resp)
        hardened(client.get("/admin/mcp/servers", headers=ADMIN))
        for refused in (
            client.get("/admin/keys"),
            client.get("/admin/keys", headers={"authorization": "Bearer wrong"}),
            client.get("/admin/health"),
            client.get("/admin/no-such-route", headers=ADMIN),
            client.post("/admin/keys", headers=ADMIN, content=b"{not json"),
        ):
            assert refused.status_code >= 400
            hardened(refused)
        signed = client.post("/admin/session", json={"key": MASTER})
        assert signed.status_code == 200
        hardened(signed)
        hardened(client.get("/admin/session"))  # with the session cookie: the CSRF token
        docs = client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        hardened(docs)
        hardened(client.get("/openapi.json"))
        asset = client.get("/docs/assets/swagger-ui.css")
        assert asset.status_code == 200
        hardened(asset, stored=True)  # a library's file: a cache may keep it
        assert asset.headers.get("cache-control") != "no-store"
