"""Read a config file: YAML, ``.env`` beside it, and environment references in any value.

Three spellings are accepted because users arrive with habits from other gateways:
``${VAR}``, ``${VAR:-default}`` and LiteLLM's ``os.environ/VAR`` (whole value only).
A reference to an unset variable without a default is a config error at that path, reported
together with every other problem rather than one at a time.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

from turnout.config import reading, toml
from turnout.config.schema import TurnoutConfig
from turnout.config.seed import normalise
from turnout.config.validate import format_path, validate

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_OS_ENVIRON = "os.environ/"
_log = logging.getLogger("turnout.config")


class ConfigError(Exception):
    """A config that must not start: carries every problem found, each prefixed by its path."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(problems))


def interpolate(
    value: Any,
    env: Mapping[str, str],
    path: tuple[str | int, ...],
    problems: list[str],
    used: dict[str, str] | None = None,
) -> Any:
    """Resolve environment references in every string of a YAML tree; ``used`` collects each
    variable's name and the value it put in (for :func:`hide_values`)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, (*path, str(k)), problems, used) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, (*path, i), problems, used) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    if value.startswith(_OS_ENVIRON):
        name = value[len(_OS_ENVIRON) :]
        if name not in env:
            problems.append(f"{format_path(path)}: environment variable {name} is not set")
            return ""
        if used is not None:
            used[name] = env[name]
        return env[name]

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env and (env[name] != "" or default is None):
            if used is not None:
                used[name] = env[name]
            return env[name]
        if default is not None:
            return default
        problems.append(f"{format_path(path)}: environment variable {name} is not set")
        return ""

    return _REF.sub(sub, value)


_HIDDEN_MIN = 4  # shorter values ("1", "on") are not secrets, and would garble messages


def hide_values(problems: list[str], used: Mapping[str, str]) -> list[str]:
    """Problems with every value taken from the environment shown as its reference
    (``${NAME}``): a secret kept in a variable and put in the wrong field, or spelled wrong,
    is never quoted into an error, a log line or ``GET /admin/config``. A value the message
    cut short (``'sk-live-abc...'``) is hidden as well."""
    secrets = sorted(
        ((n, v) for n, v in used.items() if len(v) >= _HIDDEN_MIN), key=lambda nv: -len(nv[1])
    )
    if not secrets:
        return problems
    out = []
    for problem in problems:
        where, sep, message = problem.partition(": ")  # the path holds no value
        for name, value in secrets:
            for spelling in dict.fromkeys((value, repr(value)[1:-1])):
                message = message.replace(spelling, f"${{{name}}}")
                for cut in range(len(spelling) - 1, _HIDDEN_MIN - 1, -1):  # clipped at the end
                    if spelling[:cut] + "..." in message:
                        message = message.replace(spelling[:cut] + "...", f"${{{name}}}...")
                        break
        out.append(where + sep + message)
    return out


def read_environment(config_path: Path | None) -> dict[str, str]:
    """The process environment, plus a ``.env`` beside the config for what it does not set."""
    env = dict(os.environ)
    if config_path is not None:
        dotenv = config_path.parent / ".env"
        if dotenv.is_file():  # a FIFO or a device there is not read (config/reading.py)
            try:
                text = reading.read_text(dotenv, reading.MAX_FILE_BYTES)
            except reading.ReadProblem as exc:
                raise ConfigError([f"{exc.where}: {exc}"], str(dotenv)) from None
            for k, v in dotenv_values(stream=io.StringIO(text)).items():
                if v is not None:
                    env.setdefault(k, v)
    return env


Lines = dict[str, int]
"""Where each path of a file starts (1-based line), keyed by its formatted path."""


def parse_raw(
    raw: Any, env: Mapping[str, str], source: str, lines: Lines | None = None
) -> TurnoutConfig:
    """Interpolate and validate an already-parsed YAML tree; ``lines`` (from
    :func:`read_located`) puts the file's line in front of each problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(["<root>: expected a mapping at the top of the file"], source)
    seed = normalise(raw)  # llmGateway's spellings, each rewritten with a notice
    for notice in seed.notices:
        _log.warning("%s: %s", source, notice)
    if lines and seed.moved:
        lines = {**lines, **{to: lines[fr] for to, fr in seed.moved.items() if fr in lines}}
    problems: list[str] = list(seed.problems)
    used: dict[str, str] = {}
    data = interpolate(seed.tree, env, (), problems, used)
    config, more = validate(data)
    problems.extend(more)
    if problems or config is None:
        problems = hide_values(problems, used)
        if lines:  # in file order, each with its line
            located = [locate(p, lines) for p in problems]
            problems = [p for _, p in sorted(located, key=lambda item: item[0])]
        raise ConfigError(problems, source)
    return config


def locate(problem: str, lines: Lines) -> tuple[int, str]:
    """Prefix a ``path: message`` problem with the line of its path, or of the nearest
    enclosing path the file has (a missing key is reported at its parent); problems with no
    line (made by the command line) sort last."""
    path = problem.split(": ", 1)[0]
    while path:
        if path in lines:
            return lines[path], f"line {lines[path]}: {problem}"
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return 1 << 30, problem


def load_config(path: Path, env: Mapping[str, str] | None = None) -> TurnoutConfig:
    """Load and validate a config file; raise :class:`ConfigError` listing every problem."""
    raw, lines = read_located(path)
    return parse_raw(raw, env if env is not None else read_environment(path), str(path), lines)


def read_raw(path: Path) -> Any:
    """The file's YAML tree, before interpolation and validation."""
    return read_located(path)[0]


def read_located(path: Path, *, reloading: bool = False) -> tuple[Any, Lines]:
    """The file's tree (YAML, or TOML by extension) and the line where each path starts.
    Whatever sits at ``path`` (a FIFO, a device, a huge or deeply nested file, an alias bomb,
    bytes that are not UTF-8) is a :class:`ConfigError`, never a hang or a crash
    (:mod:`turnout.config.reading`). ``reloading``: read it once nobody is writing it, and
    refuse an empty one (what a file truncated to be rewritten is for a moment)."""
    source = str(path)
    try:
        if reloading:
            text = reading.decode(reading.read_settled(path))
            if not _has_content(text):
                raise reading.ReadProblem("<file>", EMPTY_ON_RELOAD)
        else:
            text = reading.read_text(path)
        if path.suffix.lower() in toml.SUFFIXES:  # same schema, same paths (config/toml.py)
            try:
                tree, located = toml.read(text)
            except toml.TomlProblem as exc:
                raise ConfigError([f"{exc.where}: invalid TOML: {exc}"], source) from None
            except RecursionError:
                raise reading.ReadProblem("<file>", reading.TOO_DEEP) from None
            reading.check_depth(tree)
            return tree, located
        try:
            raw, node = reading.compose(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
            problem = getattr(exc, "problem", exc)
            raise ConfigError([f"{where}: invalid YAML: {problem}"], source) from None
    except reading.ReadProblem as exc:
        raise ConfigError([f"{exc.where}: {exc}"], source) from None
    lines: Lines = {}
    if node is not None:
        _walk_lines(node, (), lines, set())
    return raw, lines


EMPTY_ON_RELOAD = "empty: a reload never applies an empty file (one being rewritten?)"


def _has_content(text: str) -> bool:
    """Anything but blank lines and comments (YAML's and TOML's ``#``)."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def _walk_lines(node: Any, path: tuple[str | int, ...], lines: Lines, seen: set[int]) -> None:
    """Lines of the document's own nodes: what an alias repeats is walked once (a problem
    under a repeat is shown at the nearest line the file has)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                sub = (*path, str(key.value))
                lines.setdefault(format_path(sub), key.start_mark.line + 1)
                _walk_lines(value, sub, lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.setdefault(format_path((*path, i)), item.start_mark.line + 1)
            _walk_lines(item, (*path, i), lines, seen)
