"""``turnout config create`` adds live entries to the file's sections, keeping its comments."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from turnout.cli.main import app

runner = CliRunner()


def _create(path: Path, what: str, *extra: str) -> str:
    result = runner.invoke(app, ["config", "create", what, "-c", str(path), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_second_provider_and_a_model_land_in_their_sections(tmp_path: Path) -> None:
    path = tmp_path / "turnout.yaml"
    _create(path, "provider:openai")
    path.write_text("# my gateway\n" + path.read_text() + "\nserver: {port: 4242}  # keep\n")
    said = _create(path, "provider:anthropic")
    assert "added provider 'anthropic' to providers:" in said
    _create(path, "model:claude-x", "--provider", "anthropic")
    text = path.read_text()
    assert text.startswith("# my gateway\n") and "server: {port: 4242}  # keep" in text
    data = yaml.safe_load(text)
    assert set(data["providers"]) == {"openai", "anthropic"}
    assert data["providers"]["anthropic"]["type"] == "anthropic"
    assert data["models"]["claude-x"]["deployments"] == [
        {"provider": "anthropic", "model": "claude-x", "priority": 0, "weight": 1}
    ]
    assert data["server"] == {"port": 4242}
    result = runner.invoke(
        app, ["check", "-c", str(path)], env={"OPENAI_API_KEY": "sk-a", "ANTHROPIC_API_KEY": "b"}
    )
    assert result.exit_code == 0, result.output


def test_a_name_already_there_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "turnout.yaml"
    _create(path, "provider:gemini")
    before = path.read_text()
    result = runner.invoke(app, ["config", "create", "provider:gemini", "-c", str(path)])
    assert result.exit_code == 1 and "already has provider 'gemini'" in result.output
    assert path.read_text() == before


def test_a_flow_style_section_is_left_alone_with_the_entry_printed(tmp_path: Path) -> None:
    path = tmp_path / "turnout.yaml"
    path.write_text('providers: {openai: {type: openai, api_keys: ["k"]}}\n')
    result = runner.invoke(app, ["config", "create", "provider:mock", "-c", str(path)])
    assert result.exit_code == 1 and "paste it by hand" in result.output
    assert "type: mock" in result.output
    assert path.read_text() == 'providers: {openai: {type: openai, api_keys: ["k"]}}\n'


def test_print_only(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "create", "model:m", "--print"])
    assert result.exit_code == 0
    assert yaml.safe_load(result.output)["models"]["m"]["strategy"] == "priority"
    bad = runner.invoke(app, ["config", "create", "provider:nope", "--print"])
    assert bad.exit_code == 2 and "unknown provider type 'nope'" in bad.output


def test_type_colon_name_names_the_new_provider(tmp_path: Path) -> None:
    path = tmp_path / "turnout.yaml"
    said = _create(path, "openai:work")
    assert "added provider 'work' to providers:" in said
    _create(path, "provider:anthropic:claude")
    data = yaml.safe_load(path.read_text())
    assert data["providers"]["work"]["type"] == "openai"
    assert data["providers"]["claude"]["type"] == "anthropic"
    result = runner.invoke(app, ["config", "create", "nosuch:work", "-c", str(path)])
    assert result.exit_code == 2 and "'nosuch' is not a provider type" in result.output
