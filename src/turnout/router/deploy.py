"""``turnout router deploy`` and ``rollback``: switch a model group to a router version live.

A deployment is a configuration change and nothing else, applied by the gateway's hot reload
(``POST /admin/config/reload``, docs/configuration.md): the model group's ``strategy`` becomes
the version's kind and its ``strategy_options.router_version`` the version. The reload builds
the new router (loading the version, safely) before it swaps anything in, so a version that
does not load leaves the previous configuration serving.

The config file is edited in place with its comments and layout kept (ruamel.yaml), after the
new file has been validated whole, and replaced atomically (a watching gateway sees one
change). What the group had before (strategy and options) is recorded in the registry's
``deploys.jsonl``; ``rollback`` puts back exactly that, whether it was an older version or
another strategy altogether.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnout.router.store import Registry, version_name

LEARNED = ("knn", "mlp", "svm", "logistic")
# strategy_options a learned strategy keeps across versions (the rest belong to the strategy)
KEPT = ("mode", "quality_target", "cost_weight", "shadow", "allow_pickle", "max_chars",
        "embedding_timeout", "embedding_cache")  # fmt: skip


class DeployError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Change:
    model: str
    strategy: str
    options: dict[str, Any]
    previous_strategy: str
    previous_options: dict[str, Any]


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments, order and quoting kept
    yaml.preserve_quotes = True
    yaml.width = 100
    return yaml


def _plain(value: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (for JSON and validation)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def learned_options(
    previous_strategy: str, previous: dict[str, Any], version: str, registry: str
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if previous_strategy in LEARNED:
        options = {k: v for k, v in previous.items() if k in KEPT}
    options["router_version"] = version
    if registry != "routers" or "registry" in previous:
        options["registry"] = registry
    return options


def edit_config(path: Path, model: str, strategy: str, options: dict[str, Any]) -> Change:
    """Set the group's strategy and options in the file; validate first, write atomically."""
    from turnout.cli.build import build_config
    from turnout.config.load import ConfigError

    yaml = _yaml()
    try:
        tree = yaml.load(path.read_text())
    except OSError as exc:
        raise DeployError(f"cannot read {path}: {exc}") from None
    models = tree.get("models") if isinstance(tree, dict) else None
    if not isinstance(models, dict) or not isinstance(models.get(model), dict):
        raise DeployError(f"{path} defines no model group {model!r}")
    group = models[model]
    previous_strategy = str(group.get("strategy", "priority"))
    previous_options = _plain(group.get("strategy_options") or {})
    group["strategy"] = strategy
    if options:
        group["strategy_options"] = options
    elif "strategy_options" in group:
        del group["strategy_options"]
    out = io.StringIO()
    yaml.dump(tree, out)
    text = out.getvalue()
    # Validate the edited file as the gateway will, before it replaces the old one.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        try:
            build_config(Path(tmp))
        except ConfigError as exc:
            problems = "; ".join(exc.problems) or str(exc)
            raise DeployError(f"the edited config would be invalid: {problems}") from None
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return Change(model, strategy, options, previous_strategy, previous_options)


def check_version(registry: Registry, ref: str, allow_pickle: bool = False) -> tuple[str, str]:
    """The version's name and kind, after loading it as the gateway will."""
    number = registry.resolve(ref)
    model = registry.load(number, allow_pickle=allow_pickle)
    return version_name(number), model.kind


def record(registry: Registry, change: Change, how: str) -> None:
    registry.record_deploy(
        change.model,
        {
            "how": how,
            "version": change.options.get("router_version"),
            "strategy": change.strategy,
            "options": change.options,
            "previous_strategy": change.previous_strategy,
            "previous_options": change.previous_options,
        },
    )


def rollback_target(registry: Registry, model: str) -> tuple[str, dict[str, Any]]:
    """The strategy and options ``model`` had before its last deployment not yet rolled back
    (deployments are a stack: each rollback undoes one more)."""
    stack: list[dict[str, Any]] = []
    for entry in registry.deploys(model):
        if entry.get("how") == "deploy":
            stack.append(entry)
        elif entry.get("how") == "rollback" and stack:
            stack.pop()
    if not stack:
        raise DeployError(f"no deployment of {model!r} left to roll back in {registry.root}")
    last = stack[-1]
    return str(last.get("previous_strategy") or "priority"), dict(
        last.get("previous_options") or {}
    )
