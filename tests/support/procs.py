"""Start real processes on loopback for tests: the mock provider and the gateway.

Each process gets a free port, its output goes to a file that is printed when a test fails to
start it, and it is killed at teardown whatever happened.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Proc:
    """A child process serving HTTP on ``port``.

    ``ready_within`` is a deadline, not a wait: a process that answers sooner is used at once,
    and one that exits fails at once. It is generous because a shared 2-core machine running
    several suites can take most of a minute to import and start a gateway.
    """

    def __init__(
        self,
        args: list[str],
        port: int,
        ready_path: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        ready_within: float = 120.0,
    ):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open for the process lifetime
            prefix="turnout-test-", suffix=".log", delete=False
        )
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.popen = subprocess.Popen(
            args,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
            cwd=cwd,
        )
        self._wait_ready(ready_path, ready_within)

    def _wait_ready(self, path: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"process exited with {self.popen.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + path, timeout=0.5).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        output = self.output()
        self.stop()
        raise RuntimeError(f"process not ready after {timeout}s:\n{output}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def start_mock(*flags: str) -> Proc:
    port = free_port()
    args = [PYTHON, "-m", "turnout.mock", "--port", str(port), *flags]
    return Proc(args, port, "/v1/models")


# What a ``boot`` prelude is followed by: the CLI, as ``python -m turnout.cli.main`` runs it.
_CLI = """
import sys
sys.argv = ["turnout", *sys.argv[1:]]
from turnout.cli.main import app
app()
"""


def start_gateway(
    config: dict[str, Any],
    tmp: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    ready_within: float = 120.0,
    boot: str | None = None,
) -> Proc:
    """A gateway serving ``config``. ``boot`` is Python run in the gateway's process before the
    CLI starts, for tests that look at that process from inside (its modules, its objects)."""
    port = free_port()
    path = tmp / f"turnout-{port}.yaml"
    path.write_text(yaml.safe_dump(config))
    launch = ["-m", "turnout.cli.main"] if boot is None else ["-c", boot + _CLI]
    args = [
        PYTHON,
        *launch,
        "serve",
        "-c",
        str(path),
        "--port",
        str(port),
        *extra,
    ]
    # In the test's directory: the default database (turnout.db), spool and captures are
    # created in the working directory and must not be shared between tests.
    return Proc(args, port, "/healthz", env=env, cwd=tmp, ready_within=ready_within)


@contextmanager
def replica_pair(
    config: dict[str, Any], tmp: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[Proc, Proc]]:
    """Two gateways serving ``config``, each in its own directory under ``tmp`` (``a``, ``b``):
    replicas sharing whatever the config names (a database file, Redis). Both are stopped on
    the way out, the first also when the second does not start."""
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    a = start_gateway(config, tmp / "a", env=env)
    try:
        b = start_gateway(config, tmp / "b", env=env)
    except Exception:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def mock_provider(mock: Proc, **extra: Any) -> dict[str, Any]:
    """A provider entry pointing at a running mock server, OpenAI-compatible."""
    return {
        "type": "openai-compatible",
        "base_url": f"{mock.url}/v1",
        "api_keys": ["sk-test-upstream-key-0001"],
        "forward_headers": ["x-mock-*"],
        **extra,
    }


def start_rogue() -> Proc:
    """The hostile upstream of tests/support/rogue.py (records requests byte for byte)."""
    port = free_port()
    script = str(Path(__file__).with_name("rogue.py"))
    return Proc([PYTHON, script, "--port", str(port)], port, "/_rogue/requests")


def rogue_requests(rogue: Proc) -> list[dict[str, Any]]:
    """Every request the rogue upstream received since its last reset, oldest first."""
    records: list[dict[str, Any]] = httpx.get(rogue.url + "/_rogue/requests").json()
    return records


def rogue_reset(rogue: Proc) -> None:
    httpx.post(rogue.url + "/_rogue/reset")


def rogue_providers(rogue_server: Proc) -> dict[str, Any]:
    """The rogue upstream as three providers: OpenAI-compatible ``up``, Anthropic ``ant``,
    Gemini ``gem``."""
    up = {"base_url": rogue_server.url, "api_keys": ["sk-gateway-secret-01"]}
    return {
        "up": {"type": "openai-compatible", **up, "base_url": rogue_server.url + "/v1"},
        "ant": {"type": "anthropic", **up},
        "gem": {"type": "gemini", **up},
    }


def rogue_gateway(rogue_server: Proc, tmp: Path, master: str, **extra: Any) -> Proc:
    """A gateway with a master key whose ``gpt-*`` models go to the rogue upstream as an
    OpenAI-compatible provider (the HTTP-layer tests' target): ``extra`` is merged into the
    config (``storage``, ``server``...)."""
    config = {
        "providers": {
            "up": {
                "type": "openai-compatible",
                "base_url": rogue_server.url + "/v1",
                "api_keys": ["sk-gateway-secret-01"],
            }
        },
        "models": {"gpt-*": {"deployments": [{"provider": "up"}]}},
        **extra,
    }
    return start_gateway(config, tmp, env={"TURNOUT_MASTER_KEY": master})


def start_scripted(script: dict[str, Any], tmp: Path) -> Proc:
    """The scripted upstream of tests/support/scripted.py, answering by ``script``."""
    port = free_port()
    path = tmp / f"script-{port}.json"
    path.write_text(json.dumps(script))
    program = str(Path(__file__).with_name("scripted.py"))
    return Proc(
        [PYTHON, program, "--port", str(port), "--script", str(path)], port, "/_scripted/requests"
    )


def scripted_requests(upstream: Proc) -> list[dict[str, Any]]:
    """What the scripted upstream was asked, oldest first (``closed``: the gateway closed the
    connection while the answer was still being written)."""
    records: list[dict[str, Any]] = httpx.get(upstream.url + "/_scripted/requests").json()
    return records


def keyed_openai(gateway: Proc, master: str) -> Any:
    """An OpenAI client of the gateway holding a new gateway key, minted with the master key
    through the admin API (no retries: a test sees each answer)."""
    import openai

    resp = httpx.post(
        gateway.url + "/admin/keys", headers={"authorization": f"Bearer {master}"}, json={}
    )
    assert resp.status_code == 201, resp.text
    return openai.OpenAI(api_key=resp.json()["key"], base_url=gateway.url + "/v1", max_retries=0)
