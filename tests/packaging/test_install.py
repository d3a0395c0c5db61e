"""The wheel installs as a tool: a fresh venv outside the checkout, run from an empty directory.

This is what `uv tool install .` and `pipx install .` do; building and installing the wheel
ourselves checks the same thing without touching the user's tool directory. The dependencies
come from uv's cache (or PyPI) exactly as a user's install would get them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.procs import Proc, free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(600)


def _uv() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.fail("uv is not on PATH (the README's commands need it)")
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel and sdist, install the wheel into a new venv; return its bin directory."""
    uv = _uv()
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([uv, "build", "--out-dir", str(out), str(ROOT)], check=True, capture_output=True)
    wheels = sorted(out.glob("turnout-*.whl"))
    sdists = sorted(out.glob("turnout-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    venv = tmp_path_factory.mktemp("venv") / "env"
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    subprocess.run(
        [uv, "venv", "--python", py, str(venv)], check=True, capture_output=True, env=env
    )
    subprocess.run(
        [uv, "pip", "install", "--python", str(venv / "bin" / "python"), str(wheels[0])],
        check=True,
        capture_output=True,
        env=env,
    )
    return venv / "bin"


def _clean_env() -> dict[str, str]:
    """No checkout on any path, no provider keys: what a user's shell looks like."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TURNOUT_")}


def test_version(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed / "turnout"), "--version"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().startswith("turnout "), done.stdout
    assert "not installed" not in done.stdout


def test_serve_demo_from_an_empty_directory(installed: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "empty"
    workdir.mkdir()
    port = free_port()
    env = {**_clean_env(), "PATH": f"{installed}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = Proc(
        [str(installed / "turnout"), "serve", "--demo", "--port", str(port)],
        port,
        "/healthz",
        env=env,
        cwd=workdir,
    )
    try:
        # The installed package, not the checkout, is what serves.
        where = subprocess.run(
            [str(installed / "python"), "-c", "import turnout, sys; print(turnout.__file__)"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert str(ROOT) not in where, where
        client = openai.OpenAI(base_url=f"{proc.url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": "Hello"}]
        )
        assert reply.choices[0].message.content
        # The dashboard's files ship inside the wheel and are served from it.
        for path in ("/ui/", "/ui/app.js", "/ui/vendor/preact.mjs", "/ui/vendor/LICENSES/htm.txt"):
            assert httpx.get(proc.url + path).status_code == 200, path
    finally:
        proc.stop()
