"""Hostile or careless config files (docs/security.md, "Config files that hang or exhaust the
reader"): whatever sits at the config path, ``turnout check`` lists the problem with its line
and a running gateway refuses it on reload and keeps serving, never a hang, a traceback or an
exhausted process.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.support.procs import PYTHON, Proc, mock_provider, start_gateway

HANG_GUARD = 120  # a subprocess that never ends fails the test instead of stopping the run


def _bomb(levels: int = 9) -> str:
    """A few hundred bytes whose aliases expand to 10**levels strings."""
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    lines.append(f"models: {{m: {{deployments: *a{levels - 1}}}}}")
    return "\n".join(lines) + "\n"


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _huge(path: Path) -> None:
    with path.open("wb") as f:  # sparse: 17 MiB of zeros that cost no disk
        f.truncate(17 * 1024 * 1024)


HOSTILE: dict[str, tuple[Callable[[Path], object], str]] = {
    "fifo": (_fifo, "a FIFO, not a regular file"),
    "dev-zero": (_zero, "a device, not a regular file"),
    "huge": (_huge, "larger than 16 MiB"),
    "alias-bomb": (lambda p: p.write_text(_bomb()), "an alias bomb"),
    "alias-cycle": (lambda p: p.write_text("models: &a [*a]\n"), "refers to a node that contains"),
    "deep-yaml": (lambda p: p.write_text("models: " + "[" * 5000 + "]" * 5000), "nested deeper"),
    "deep-map": (lambda p: p.write_text("models: " + "{a: " * 150 + "1" + "}" * 150), "nested"),
    "not-utf8": (lambda p: p.write_bytes(b"models:\n  m\xff: {}\n"), "line 2, column 4: not UTF-8"),
}


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "turnout.cli.main", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        cwd=path.parent,
    )


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_turnout_check_names_the_problem(name: str, tmp_path: Path) -> None:
    make, expected = HOSTILE[name]
    path = tmp_path / "turnout.yaml"
    make(path)
    done = _check(path)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    assert expected in output, output


def test_a_deep_toml_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "turnout.toml"
    path.write_text("a = " + "[" * 3000 + "1" + "]" * 3000 + "\n")
    done = _check(path)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "nested deeper than 100 levels" in done.stdout + done.stderr


def test_a_dotenv_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "turnout.yaml"
    path.write_text("models: {}\n")
    (tmp_path / ".env").write_bytes(b"A=1\nKEY=\xc3\x28\n")
    done = _check(path)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "line 2, column 5: not UTF-8" in done.stdout + done.stderr


def _config(mock: Proc, k: int) -> dict[str, Any]:
    return {
        "providers": {"mock": mock_provider(mock)},
        "models": {"live": {"deployments": [{"provider": "mock", "model": f"v{k}"}]}},
    }


def test_a_reload_refuses_every_hostile_file_and_keeps_serving(mock: Proc, tmp_path: Path) -> None:
    """Each file is swapped in as a deploy would (a link or a file renamed over the config);
    before, the FIFO blocked the reload (and every later one, admin writes included) forever
    and the alias bomb took the reloading process's memory."""
    proc = start_gateway(_config(mock, 0), tmp_path, "--no-watch", ready_within=60)
    path = tmp_path / f"turnout-{proc.port}.yaml"
    client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0)

    def serving() -> str | None:
        raw = client.chat.completions.with_raw_response.create(
            model="live", messages=[{"role": "user", "content": "hi"}]
        )
        return raw.headers.get("x-turnout-deployment")

    try:
        assert serving() == "mock/v0"
        for name in ("fifo", "dev-zero", "alias-bomb", "not-utf8", "huge", "deep-yaml"):
            make, expected = HOSTILE[name]
            staged = tmp_path / f"staged-{name}"
            make(staged)
            os.replace(staged, path)  # the link (or file) itself is renamed over the config
            answer = httpx.post(proc.url + "/admin/config/reload", timeout=HANG_GUARD)
            assert answer.status_code == 422, (name, answer.text)
            assert expected in "\n".join(answer.json()["problems"]), (name, answer.text)
            assert serving() == "mock/v0", name
        path.unlink()
        path.write_text(yaml.safe_dump(_config(mock, 1)))
        answer = httpx.post(proc.url + "/admin/config/reload", timeout=HANG_GUARD)
        assert answer.status_code == 200, answer.text
        assert serving() == "mock/v1"
    finally:
        output = proc.output()
        proc.stop()
    assert "Traceback" not in output
