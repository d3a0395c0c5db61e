"""``--help`` is instant and readable: no heavy import, every option explained, no markup."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import typer
import typer.testing

from turnout.cli.main import app

# Imported by `turnout --help` they would cost seconds (help took 1-5 s). pydantic is not in
# the list: typer itself builds its parameter converters with it.
HEAVY = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "uvicorn",
    "structlog",
    "rich",
    "yaml",
    "turnout.app",
    "turnout.config",
    "turnout.storage",
    "turnout.auth",
)

_PROBE = """
import json, sys
from typer.main import get_command
from turnout.cli.main import app
root = get_command(app)
paths = [[]]
for name, cmd in root.commands.items():
    paths.append([name])
    for sub in getattr(cmd, "commands", {}):
        paths.append([name, sub])
out = {}
for path in paths:
    try:
        root.main([*path, "--help"], prog_name="turnout", standalone_mode=False)
    except SystemExit:
        pass
heavy = sorted({m.split(".")[0] if not m.startswith("turnout") else ".".join(m.split(".")[:2])
                for m in sys.modules})
print(json.dumps({"paths": paths, "modules": heavy}))
"""


def _commands() -> list[tuple[str, Any]]:
    """Every command as (path, click command); typer ships its own click, hence duck typing."""
    root: Any = typer.main.get_command(app)
    out: list[tuple[str, Any]] = [("", root)]
    for name, cmd in root.commands.items():
        out.append((name, cmd))
        out.extend((f"{name} {sub}", c) for sub, c in getattr(cmd, "commands", {}).items())
    return out


def test_help_of_every_command_imports_nothing_heavy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["paths"]) > 15  # every command and subcommand was asked for help
    loaded = set(result["modules"])
    assert not loaded & set(HEAVY), f"--help imported {sorted(loaded & set(HEAVY))}"


def test_every_option_has_help_and_a_named_value() -> None:
    missing = []
    for path, cmd in _commands():
        for param in cmd.params:
            if param.param_type_name != "option" or param.hidden:
                continue
            if not param.help:
                missing.append(f"turnout {path} {param.opts[0]}")
            if not param.is_flag and param.metavar is None:
                missing.append(f"turnout {path} {param.opts[0]} (no metavar)")
    assert not missing, missing


def test_help_text_is_plain() -> None:
    runner = typer.testing.CliRunner()
    for path, _ in _commands():
        result = runner.invoke(app, [*path.split(), "--help"], terminal_width=100)
        assert result.exit_code == 0, (path, result.output)
        text = result.output
        assert "<bool>" not in text and "``" not in text, (path, text)
        assert "│" not in text  # no boxes that get cut at 80 columns
        for line in text.splitlines():
            assert not line.rstrip().endswith("…"), (path, line)


def test_version() -> None:
    result = typer.testing.CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("turnout ")
