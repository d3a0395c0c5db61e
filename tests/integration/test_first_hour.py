"""What a new operator meets first: ``serve --demo``, its start-up output, its refusals and
the admin docs page, each as the issue that found them described it."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.procs import PYTHON, Proc, free_port
from turnout.config.modes import env_keys

CLI = [PYTHON, "-m", "turnout.cli.main"]


def _bare_env() -> dict[str, str]:
    """The environment without provider keys or a config: a fresh machine."""
    drop = {*env_keys(), "TURNOUT_CONFIG", "TURNOUT_MASTER_KEY"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env or _bare_env()
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("demo")
    port = free_port()
    proc = Proc([*CLI, "serve", "--demo", "--port", str(port)], port, "/healthz", cwd=tmp)
    yield proc
    proc.stop()


def test_a_demo_answer_has_one_request_id_and_no_mock_headers(demo: Proc) -> None:
    body = {"model": "demo", "messages": [{"role": "user", "content": "Hello"}]}
    r = httpx.post(demo.url + "/v1/chat/completions", json=body)
    assert r.status_code == 200
    assert len(r.headers.get_list("x-request-id")) == 1
    assert not [name for name in r.headers if name.startswith("x-mock-")]
    assert r.headers["x-turnout-deployment"] == "mock/mock-1"


def test_unknown_routes_get_a_real_request_id(demo: Proc) -> None:
    r = httpx.get(demo.url + "/nothing/here")
    assert r.status_code == 404
    assert r.headers["x-request-id"] not in ("", "-")
    mine = httpx.get(demo.url + "/nothing", headers={"x-request-id": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"


def test_demo_models_list_names_that_work(demo: Proc) -> None:
    ids = [m["id"] for m in httpx.get(demo.url + "/v1/models").json()["data"]]
    assert ids[0] == "demo" and "mock-gpt-4o" in ids and "*" not in ids and "mock-*" not in ids
    for name in ids:
        body = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
        if "embedding" not in name:
            assert httpx.post(demo.url + "/v1/chat/completions", json=body).status_code == 200


def test_start_up_output_is_one_format(demo: Proc) -> None:
    deadline = time.monotonic() + 10
    while "Uvicorn running" not in demo.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in demo.output().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, uvicorn's included, is JSON
    events = {r["event"]: r for r in records}
    assert any(e.startswith("Uvicorn running on") for e in events)
    warning = next(r for e, r in events.items() if e.startswith("AUTHENTICATION IS OFF"))
    assert warning["level"] == "warning"


def test_docs_page_needs_no_internet(demo: Proc) -> None:
    page = httpx.get(demo.url + "/docs")
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(refs) >= 3
    for ref in refs:
        assert ref.startswith("/"), f"/docs loads {ref} from elsewhere"
        asset = httpx.get(demo.url + ref)
        assert asset.status_code == 200 and len(asset.content) > 500, ref
    assert "https://" not in page.text.split("<script>")[-1]
    assert httpx.get(demo.url + "/openapi.json").status_code == 200


def test_an_unknown_log_level_is_a_usage_error(tmp_path: Path) -> None:
    done = _run(["serve", "--demo", "--log-level", "loud"], tmp_path)
    assert done.returncode == 2
    assert "'loud' is not one of debug, info, warning, error" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_no_provider_says_what_to_do(tmp_path: Path) -> None:
    for command in ("serve", "check"):
        done = _run([command], tmp_path)
        assert done.returncode == 2, done
        assert "no providers" in done.stderr and "OPENAI_API_KEY" in done.stderr
        assert "--demo" in done.stderr
    assert not (tmp_path / "turnout.db").exists()
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    done = _run(["check", "-c", str(empty)], tmp_path)
    assert done.returncode == 1 and f"no providers in {empty}" in done.stderr


def test_a_busy_port_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(["serve", "--demo", "--port", str(port)], tmp_path)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
    assert "database migrated" not in done.stdout
    assert not (tmp_path / "turnout.db").exists()


def test_on_a_terminal_lines_are_for_people_and_the_warning_stands_out(tmp_path: Path) -> None:
    port = free_port()
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "serve", "--demo", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        cwd=tmp_path,
        env=_bare_env(),
        start_new_session=True,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"Uvicorn running" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
    finally:
        proc.kill()
        proc.wait(10)
        os.close(leader)
    text = seen.decode(errors="replace")
    assert "Uvicorn running" in text, text
    assert '{"event"' not in text  # not JSON
    warning = next(line for line in text.splitlines() if "AUTHENTICATION IS OFF" in line)
    assert "\x1b[" in warning and "warning" in warning  # coloured
