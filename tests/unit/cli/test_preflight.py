"""Values the environment gives a valid config are checked before anything starts: a plain
problem line and exit code 2, never a traceback from building the app."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from turnout.cli.main import app
from turnout.cli.preflight import startup_problems
from turnout.config.schema import TurnoutConfig

runner = CliRunner()


def _config(tmp_path: Path, url: str | None = None) -> TurnoutConfig:
    storage = {"url": url} if url is not None else {"url": str(tmp_path / "gw.db")}
    return TurnoutConfig.model_validate({"storage": storage})


@pytest.mark.parametrize(
    "url",
    ["foo://bar", "mysql://u:pw@h/db", "sqlite+pysqlite:///x.db", "postgresql+psycopg2://u@h/d"],
)
def test_a_database_the_gateway_has_no_driver_for_is_a_problem(tmp_path: Path, url: str) -> None:
    (problem,) = startup_problems(_config(tmp_path, url), {})
    assert problem.startswith("storage.url: unsupported database")


@pytest.mark.parametrize(
    "url", ["sqlite:///x.db", "postgres://u@h/d", "postgresql://u@h/d", "memory://", "plain.db"]
)
def test_the_supported_spellings_pass(tmp_path: Path, url: str) -> None:
    assert startup_problems(_config(tmp_path, url), {}) == []


def test_the_environment_is_named_and_its_password_hidden(tmp_path: Path) -> None:
    env = {"TURNOUT_DATABASE_URL": "mysql://admin:hunter2-secret@db/x"}
    (problem,) = startup_problems(_config(tmp_path), env)
    assert problem.startswith("TURNOUT_DATABASE_URL: ")
    assert "hunter2" not in problem


def test_a_disabled_database_is_not_read(tmp_path: Path) -> None:
    cfg = TurnoutConfig.model_validate({"storage": {"enabled": False, "url": "foo://x"}})
    assert startup_problems(cfg, {}) == []


def test_short_master_key_and_bad_sealing_key_without_their_values(tmp_path: Path) -> None:
    env = {"TURNOUT_MASTER_KEY": "short-secret", "TURNOUT_SECRET_KEY": "tiny-secret"}
    problems = startup_problems(_config(tmp_path), env)
    assert [p.split(" ", 1)[0].rstrip(":") for p in problems] == [
        "TURNOUT_MASTER_KEY",
        "TURNOUT_SECRET_KEY",
    ]
    assert not any("short-secret" in p or "tiny-secret" in p for p in problems)


@pytest.mark.parametrize("command", ["serve", "check"])
def test_serve_and_check_stop_with_the_problem_not_a_traceback(
    tmp_path: Path, command: str
) -> None:
    path = tmp_path / "turnout.yaml"
    path.write_text(f"storage: {{url: {tmp_path}/gw.db}}\n")
    args = [command, "--demo", "-c", str(path)] + (["--port", "0"] if command == "serve" else [])
    result = runner.invoke(app, args, env={"TURNOUT_MASTER_KEY": "too-short"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert "TURNOUT_MASTER_KEY: the master key must be at least 16 characters" in result.output
    assert "Traceback" not in result.output and "too-short" not in result.output


def test_a_guessable_master_key_is_warned_about_without_being_shown(tmp_path: Path) -> None:
    from turnout.cli.preflight import startup_warnings

    cfg = _config(tmp_path)
    for weak in ("aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "password-1234567"):
        (warning,) = startup_warnings(cfg, {"TURNOUT_MASTER_KEY": weak})
        assert warning.startswith("TURNOUT_MASTER_KEY: the master key looks guessable")
        assert weak not in warning
    random = "Qx7-vR2_pL9kWm4ZtB8nYc3HdF6sJ1aE"
    assert startup_warnings(cfg, {"TURNOUT_MASTER_KEY": random}) == []
    assert startup_warnings(cfg, {}) == []
    path = tmp_path / "turnout.yaml"
    path.write_text(f"storage: {{url: {tmp_path}/gw.db}}\n")
    result = runner.invoke(
        app, ["check", "--demo", "-c", str(path)], env={"TURNOUT_MASTER_KEY": "b" * 30}
    )
    assert result.exit_code == 0 and "looks guessable" in result.output


def test_several_workers_counting_limits_in_memory_are_warned_about(tmp_path: Path) -> None:
    """Before: ``serve --workers 2`` with the default memory limiter started silently, and a
    key limited to 10 requests a minute was admitted 20 times of 60 (each worker counts
    alone), as documented but never said at start."""
    from turnout.cli.preflight import startup_warnings

    cfg = _config(tmp_path)
    assert startup_warnings(cfg, {}) == []
    several = cfg.model_copy(update={"server": cfg.server.model_copy(update={"workers": 4})})
    (warning,) = startup_warnings(several, {})
    assert warning.startswith("4 workers with limits.backend: memory")
    assert "up to 4 times its limits" in warning and "limits.backend: redis" in warning
    shared = several.model_copy(
        update={"limits": several.limits.model_copy(update={"backend": "redis"})}
    )
    assert startup_warnings(shared, {}) == []
