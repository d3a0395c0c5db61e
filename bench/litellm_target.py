"""LiteLLM's proxy as a target of ``bench/run.py --with-litellm``: the gateway most of our users
run today, measured on the same upstream, load and cores as Turnout.

LiteLLM is not a dependency of the project: the first run installs the pinned release with uv
into its own virtual environment under ``~/.cache/turnout-bench/`` (~600 MB), later runs reuse
it. If it cannot be installed (no network, no uv), the run says so and goes on without it.

It is configured like the ``turnout`` target: one OpenAI-compatible deployment on the mock,
a master key (the bench's gateway key, which starts with ``sk-`` as LiteLLM requires), one
worker process, no database, logging at ERROR.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

NAME = "litellm"
VERSION = "1.106.2"  # the release the hot-path issue measured
VENV = Path.home() / ".cache" / "turnout-bench" / f"litellm-{VERSION}"
C1_REQUESTS = 200  # c=1 requests per mode: each takes tens of milliseconds through LiteLLM
READY_WITHIN = 180.0  # seconds: it imports a great deal before it listens


def install() -> Path | None:
    """The ``litellm`` executable of the pinned release, installed on first use; None (and a
    line saying why) when it cannot be."""
    exe = VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    uv = shutil.which("uv")
    if uv is None:
        print("LiteLLM not measured: uv is needed to install it (pip install uv)")
        return None
    print(f"installing litellm[proxy]=={VERSION} into {VENV} (first run only)", flush=True)
    try:
        subprocess.run([uv, "venv", "-q", "-p", "3.11", str(VENV)], check=True, timeout=300)
        python = str(VENV / "bin" / "python")
        spec = f"litellm[proxy]=={VERSION}"
        install = [uv, "pip", "install", "-q", "--python", python, spec]
        subprocess.run(install, check=True, timeout=1800)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"LiteLLM not measured: it could not be installed ({exc})")
        shutil.rmtree(VENV, ignore_errors=True)
        return None
    return exe if exe.exists() else None


def command(exe: Path, tmp: Path, model: str, up_port: int, port: int, key: str) -> list[str]:
    """LiteLLM's proxy serving ``model`` from the mock at ``up_port``, on ``port``."""
    config = {
        "model_list": [
            {
                "model_name": model,
                "litellm_params": {
                    "model": f"openai/{model}",
                    "api_base": f"http://127.0.0.1:{up_port}/v1",
                    "api_key": "sk-bench",
                },
            }
        ],
        "general_settings": {"master_key": key},
        "litellm_settings": {"set_verbose": False},
    }
    path = tmp / "litellm.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    os.environ.setdefault("LITELLM_LOG", "ERROR")  # inherited by the process start_in starts
    return [str(exe), "--config", str(path), "--port", str(port), "--num_workers", "1"]
