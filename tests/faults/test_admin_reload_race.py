"""An admin write racing a file reload (docs/configuration.md, "Providers and models through
the admin API"): a write is checked against the file's config as it stood, and the file may
change before the write is applied. When the write cannot be applied then, nothing of it
stays stored: before, it was kept (answered 201 with ``result: failed``) and every later
reload, of the file or of the database, failed on it until someone deleted it.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until

MASTER = "race-master-test-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}"}

# A file reload, once it has read the database's entries, waits while HOLD exists (saying so
# with HELD): the admin write lands in that gap, exactly as it could on its own.
_BOOT = """
import asyncio, os
from pathlib import Path
import turnout.live.service as service
hold, held = Path(os.environ["RACE_HOLD"]), Path(os.environ["RACE_HELD"])
original = service.ManagedService.overlay
async def overlay(self, base):
    out = await original(self, base)
    if hold.exists() and "fp" not in base.providers:
        held.touch()
        while hold.exists():
            await asyncio.sleep(0.02)
    return out
service.ManagedService.overlay = overlay
"""


def _config(mock: Proc, with_fp: bool) -> dict[str, Any]:
    providers = {"mock": mock_provider(mock)}
    if with_fp:
        providers["fp"] = mock_provider(mock)
    return {
        "outbound": {"allow": ["127.0.0.1/32"]},
        "providers": providers,
        "models": {"live": {"deployments": [{"provider": "mock", "model": "v0"}]}},
    }


def test_a_write_the_file_outdated_meanwhile_is_not_kept(mock: Proc, tmp_path: Path) -> None:
    hold, held = tmp_path / "hold", tmp_path / "held"
    env = {
        "TURNOUT_MASTER_KEY": MASTER,
        "TURNOUT_SECRET_KEY": secrets.token_hex(32),
        "RACE_HOLD": str(hold),
        "RACE_HELD": str(held),
    }
    gw = start_gateway(
        _config(mock, True), tmp_path, "--no-watch", env=env, ready_within=60, boot=_BOOT
    )
    path = tmp_path / f"turnout-{gw.port}.yaml"
    answers: dict[str, httpx.Response] = {}

    def call(name: str, method: str, url: str, **kw: Any) -> None:
        answers[name] = httpx.request(method, gw.url + url, headers=ADMIN, timeout=60, **kw)

    try:
        hold.touch()
        path.write_text(yaml.safe_dump(_config(mock, False)))  # the file drops provider fp
        reload = threading.Thread(target=call, args=("reload", "POST", "/admin/config/reload"))
        reload.start()
        until(held.exists, 30)
        model = {"deployments": [{"provider": "fp", "model": "from-api"}]}
        write = threading.Thread(
            target=call, args=("write", "PUT", "/admin/models/am"), kwargs={"json": model}
        )
        write.start()
        until(lambda: any(m["name"] == "am" for m in _stored(gw)), 30)  # stored, not applied
        hold.unlink()
        reload.join(60)
        write.join(60)
        assert answers["reload"].status_code == 200, answers["reload"].text
        written = answers["write"]
        assert written.status_code == 409, written.text
        assert "unknown provider 'fp'" in written.text
        assert _stored(gw) == []  # rolled back
        # Nothing is stuck: the next reload of the file applies.
        cfg = _config(mock, False)
        cfg["models"]["live"]["deployments"][0]["model"] = "v1"
        path.write_text(yaml.safe_dump(cfg))
        again = httpx.post(gw.url + "/admin/config/reload", headers=ADMIN, timeout=60)
        assert again.status_code == 200, again.text
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="live", messages=[{"role": "user", "content": "hi"}]
        )
        assert raw.headers["x-turnout-deployment"] == "mock/v1"
    finally:
        hold.unlink(missing_ok=True)
        output = gw.output()
        gw.stop()
    assert "Traceback" not in output


def _stored(gw: Proc) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = httpx.get(
        gw.url + "/admin/models", headers=ADMIN, timeout=10
    ).json()["models"]
    return models
