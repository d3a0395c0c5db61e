"""Deploying a version is a validated, comment-keeping edit of the model group, recorded so a
rollback puts back exactly what was there."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from turnout.cli.main import app
from turnout.router.deploy import DeployError, edit_config, learned_options, rollback_target
from turnout.router.store import Registry

CONFIG = """\
# the gateway of the test
providers:
  mock: {type: mock}   # in process
models:
  auto:
    strategy: sticky          # pins clients
    strategy_options: {ttl: 60}
    deployments:
      - {provider: mock, model: cheap-1}
      - {provider: mock, model: strong-1}
"""


def _group(path: Path) -> dict[str, object]:
    group: dict[str, object] = yaml.safe_load(path.read_text())["models"]["auto"]
    return group


def test_the_edit_keeps_comments_and_validates(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "turnout.yaml"
    path.write_text(CONFIG)
    options = learned_options("sticky", {"ttl": 60}, "v0001", str(registry.root))
    change = edit_config(path, "auto", "knn", options)
    assert change.previous_strategy == "sticky" and change.previous_options == {"ttl": 60}
    text = path.read_text()
    assert "# the gateway of the test" in text and "# in process" in text
    assert _group(path)["strategy"] == "knn"
    assert _group(path)["strategy_options"] == {
        "router_version": "v0001", "registry": str(registry.root)
    }  # fmt: skip
    with pytest.raises(DeployError, match="invalid"):
        edit_config(path, "auto", "knn", {"router_version": "v1", "quality_tagret": 2})
    assert _group(path)["strategy"] == "knn"  # untouched by the refused edit
    with pytest.raises(DeployError, match="no model group"):
        edit_config(path, "nope", "knn", options)


def test_learned_options_survive_a_new_version() -> None:
    kept = learned_options("knn", {"router_version": "v1", "quality_target": 0.9, "x": 1},
                           "v0002", "routers")  # fmt: skip
    assert kept == {"quality_target": 0.9, "router_version": "v0002"}


def test_deploy_and_rollback_from_the_command_line(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "turnout.yaml"
    path.write_text(CONFIG)
    runner = CliRunner()
    reg = str(registry.root)
    registry.save(registry.load(1))  # v0002

    def run(*args: str) -> str:
        result = runner.invoke(app, ["router", *args, "-c", str(path), "--registry", reg,
                                     "--no-reload"])  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.output

    assert "auto -> knn v0001" in run("deploy", "1", "--model", "auto")
    assert "auto -> knn v0002" in run("deploy", "latest", "--model", "auto")
    assert rollback_target(registry, "auto") == ("knn", {"router_version": "v0001",
                                                         "registry": reg})  # fmt: skip
    run("rollback", "--model", "auto")
    assert _group(path)["strategy_options"] == {"router_version": "v0001", "registry": reg}
    run("rollback", "--model", "auto")
    assert _group(path)["strategy"] == "sticky"
    assert _group(path)["strategy_options"] == {"ttl": 60}
    with pytest.raises(DeployError, match="left to roll back"):
        rollback_target(registry, "auto")
    bad = runner.invoke(app, ["router", "deploy", "7", "--model", "auto", "-c", str(path),
                              "--registry", reg, "--no-reload"])  # fmt: skip
    assert bad.exit_code == 2 and "no router version 7" in bad.output
