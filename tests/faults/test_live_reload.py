"""The reload path under faults (docs/reliability.md): a half-written file, a deleted file
and an invalid edit reach a watching gateway while it serves; the old config keeps serving
every request, and the file's next good state is applied."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until


def _config(mock: Proc, k: int) -> dict[str, Any]:
    return {
        "providers": {"mock": mock_provider(mock)},
        "models": {"live": {"deployments": [{"provider": "mock", "model": f"v{k}"}]}},
    }


def test_broken_files_never_stop_the_serving_config(mock: Proc, tmp_path: Path) -> None:
    proc = start_gateway(_config(mock, 0), tmp_path, ready_within=60)
    path = tmp_path / f"turnout-{proc.port}.yaml"
    client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0)
    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def traffic() -> None:  # requests all along, none may fail
        while not stop.is_set():
            try:
                raw = client.chat.completions.with_raw_response.create(
                    model="live", messages=[{"role": "user", "content": "hi"}]
                )
                seen.append(raw.headers["x-turnout-deployment"])
            except Exception as exc:
                failures.append(repr(exc))

    def state() -> dict[str, Any]:
        live: dict[str, Any] = httpx.get(proc.url + "/admin/config").json()["live"]
        return live

    def serving(version: str) -> bool:
        return bool(seen) and seen[-1] == f"mock/{version}"

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        until(lambda: serving("v0"), 30)
        good = yaml.safe_dump(_config(mock, 1))
        path.write_text(good[: len(good) // 2])  # half-written: cut mid-structure
        until(lambda: state()["last_error"] is not None)
        assert serving("v0")
        path.write_text(good)  # the writer finishes
        until(lambda: serving("v1"))
        until(lambda: state()["last_error"] is None)

        path.unlink()  # deleted (a deploy that removes, then recreates, the file)
        until(lambda: (e := state()["last_error"]) is not None and "cannot read" in str(e))
        assert serving("v1")
        path.write_text(yaml.safe_dump(_config(mock, 2)))
        until(lambda: serving("v2"))

        bad = _config(mock, 3)
        bad["models"]["live"]["deployments"][0]["provider"] = "missing"
        path.write_text(yaml.safe_dump(bad))  # valid YAML, dangling reference
        until(lambda: "missing" in str(state()["last_error"]))
        count = len(seen)
        until(lambda: len(seen) > count + 5)
        assert serving("v2")
    finally:
        stop.set()
        worker.join(30)
        output = proc.output()
        proc.stop()
    assert not failures, failures[:5]
    assert "Traceback" not in output
