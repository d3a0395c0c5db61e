"""Run real agent clients (Claude Code, Gemini CLI) non-interactively against a gateway.

The clients are npm packages pinned in ``clients.txt`` and installed by ``.ci/run`` into a
cache directory (``~/.cache/turnout-clients/<name>-<version>``, or ``$TURNOUT_CLIENTS_DIR``).
Each run gets a fresh HOME and working directory and an environment built from nothing but
``PATH``, so no user configuration or credential leaks in, and everything that would reach the
vendors (telemetry, update checks, usage statistics, nonessential traffic) is switched off: the
machine running the suite has no internet access, and a client that needs it fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).resolve().parent
RUN_TIMEOUT = 240.0  # seconds for one whole CLI session; a healthy one takes a few
MIN_NODE = 20  # Gemini CLI's engines field


@dataclass(frozen=True)
class Client:
    name: str
    package: str
    version: str
    binary: str

    @property
    def home(self) -> Path:
        return cache_root() / f"{self.name}-{self.version}"

    @property
    def executable(self) -> Path:
        return self.home / "node_modules" / ".bin" / self.binary


def pinned() -> dict[str, Client]:
    out = {}
    for line in (HERE / "clients.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, package, version, binary = line.split()
            out[name] = Client(name, package, version, binary)
    return out


def cache_root() -> Path:
    configured = os.environ.get("TURNOUT_CLIENTS_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "turnout-clients"


def _missing(what: str) -> None:
    message = f"{what} (run .ci/run, which installs the pinned clients)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require(name: str) -> Client:
    client = pinned()[name]
    if not client.executable.exists():
        _missing(f"{client.package}@{client.version} is not installed in {client.home}")
    return client


def node_dir() -> Path:
    """The directory of a Node.js new enough for the clients: the one ``.ci/run`` put in the
    cache when the system's is too old, else the system's."""
    cached = cache_root() / "node" / "bin"
    if (cached / "node").exists():
        return cached
    found = shutil.which("node")
    if found is None:
        _missing("node is not installed")
        raise AssertionError  # unreachable
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=True)
    if int(version.stdout.strip().lstrip("v").split(".")[0]) < MIN_NODE:
        _missing(f"node {version.stdout.strip()} is older than {MIN_NODE}")
    return Path(found).parent


def base_env(home: Path) -> dict[str, str]:
    path = f"{node_dir()}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1"}


@dataclass
class Session:
    returncode: int
    stdout: str
    stderr: str
    result: Any  # the client's JSON output

    def explain(self) -> str:
        out, err = self.stdout[-4000:], self.stderr[-4000:]
        return f"exit {self.returncode}\nstdout:\n{out}\nstderr:\n{err}"


def _run(args: list[str], env: dict[str, str], cwd: Path) -> Session:
    done = subprocess.run(
        args,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    try:
        result = json.loads(done.stdout)
    except ValueError:
        result = None
    return Session(done.returncode, done.stdout, done.stderr, result)


def claude(client: Client, gateway: str, tmp: Path, prompt: str) -> Session:
    """``claude -p`` with the API key style of a gateway user, one allowed tool, three turns."""
    home, work = tmp / "home", tmp / "work"
    home.mkdir()
    work.mkdir()
    env = {
        **base_env(home),
        "ANTHROPIC_BASE_URL": gateway,
        "ANTHROPIC_API_KEY": "sk-turnout-client-test",
        # Nothing but the model calls: no telemetry, error reports, update checks, feedback
        # surveys or other nonessential traffic (none of it could reach its host here).
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
    }
    args = [
        str(client.executable),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--max-turns",
        "3",
        "--allowedTools",
        "Bash",
    ]
    return _run(args, env, work)


GEMINI_SETTINGS = {
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "model": {"maxSessionTurns": 4},
}


def gemini(client: Client, gateway: str, tmp: Path, prompt: str) -> Session:
    """``gemini -p`` with an API key, tools approved (``--yolo``), four turns at most."""
    home, work = tmp / "home", tmp / "work"
    (home / ".gemini").mkdir(parents=True)
    work.mkdir()
    (home / ".gemini" / "settings.json").write_text(json.dumps(GEMINI_SETTINGS))
    env = {
        **base_env(home),
        "GEMINI_API_KEY": "sk-turnout-client-test",
        "GOOGLE_GEMINI_BASE_URL": gateway,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",  # a fresh temp directory, trusted on purpose
        "GEMINI_CLI_NO_RELAUNCH": "true",  # one process: no relaunch with a bigger heap
        "GEMINI_TELEMETRY_ENABLED": "false",
    }
    args = [str(client.executable), "-p", prompt, "--output-format", "json", "--yolo"]
    return _run(args, env, work)


def request_rows(gateway: str, protocol: str, expected: int, timeout: float = 20.0) -> list[Any]:
    """The gateway's request-log rows of ``protocol``, oldest first, once ``expected`` of them
    are written (rows are written in batches shortly after each call ends). Fails at once if
    more than ``expected`` appear: an extra call is a finding, not noise."""
    deadline = time.monotonic() + timeout
    rows: list[Any] = []
    while time.monotonic() < deadline:
        page = httpx.get(f"{gateway}/admin/logs", params={"limit": 200}, timeout=10).json()
        rows = [r for r in reversed(page["rows"]) if r["protocol"] == protocol]
        assert len(rows) <= expected, json.dumps(rows, indent=1)
        if len(rows) == expected:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"{len(rows)} of {expected} request rows: {json.dumps(rows, indent=1)}")
