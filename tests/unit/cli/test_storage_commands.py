"""Commands that need only the database read only the ``storage`` section."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from turnout.cli.main import app

runner = CliRunner()


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "turnout.yaml"
    path.write_text(
        f"storage: {{url: {tmp_path}/gw.db}}\n"
        "providers:\n"
        '  openai: {type: openai, api_keys: ["${UNSET_PROVIDER_KEY_FOR_TEST}"]}\n'
        "models: {gpt-4o: {deployments: [{provider: openai}]}}\n"
    )
    return path


def test_db_keys_and_usage_run_without_provider_keys(tmp_path: Path) -> None:
    cfg = ["-c", str(_config(tmp_path))]
    upgraded = runner.invoke(app, ["db", "upgrade", *cfg])
    assert upgraded.exit_code == 0, upgraded.output
    current = runner.invoke(app, ["db", "current", *cfg])
    assert current.exit_code == 0 and "up to date" in current.output, current.output
    created = runner.invoke(app, ["teams", "create", "t1", *cfg])
    assert created.exit_code == 0, created.output
    usage = runner.invoke(app, ["usage", "--json", *cfg])
    assert usage.exit_code == 0 and json.loads(usage.stdout)["groups"] == []
    # serve and check still need the whole config, and say which variable is missing.
    checked = runner.invoke(app, ["check", *cfg])
    assert checked.exit_code == 2 and "UNSET_PROVIDER_KEY_FOR_TEST is not set" in checked.output


def test_a_bad_time_says_which_forms_work(tmp_path: Path) -> None:
    result = runner.invoke(app, ["usage", "-c", str(_config(tmp_path)), "--from", "2weeks"])
    assert result.exit_code == 2
    assert "'2weeks' is not a time" in result.output
    assert "2w" in result.output and "2025-01-31" in result.output
