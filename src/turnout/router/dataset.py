"""Training examples: one row per (prompt, deployment) with the quality of that answer.

The one layout everything here reads and writes (``turnout router export`` writes it,
``train`` and ``eval`` read it) is *long*: ``prompt``, ``deployment``, ``score`` (0-1, the
higher the better; empty when unlabelled), and optionally ``cost`` (USD for that call),
``latency_ms``, ``request_id``, ``source`` (``feedback``, ``judge:MODEL``, ``import``),
``category``. Files are JSON lines, CSV or Parquet, chosen by extension. JSON lines and Parquet
hold every text exactly; in CSV a text cell that a spreadsheet would run as a formula (it
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written after a ``'``,
which reading such a file takes off again (:func:`_inert`).

Public router datasets come in two other layouts, converted by :func:`convert`:

- *wide* (RouterBench, RouteLLM's benchmark CSVs): one row per prompt, one score column per
  model (``gpt-4-1106-preview``: 0/1 or a grade), optionally ``<model>|total_cost`` and
  ``<model>|model_response``, plus ``sample_id``, ``eval_name``, ``oracle_model_to_route_to``;
- *battles* (RouteLLM's training data, Chatbot Arena preferences): ``prompt``, ``model_a``,
  ``model_b`` and either ``winner`` (``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``) or
  the one-hot ``winner_model_a`` / ``winner_model_b`` / ``winner_tie``. The winner scores 1,
  the loser 0, a tie 0.5 each, a tie where both were bad 0 each.

Model names in a dataset are mapped to the gateway's deployment ids (``provider/model``) with
``mapping``; prompts stored as list literals (RouterBench keeps turns as ``"['...']"``) are
joined into one text.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

LONG_COLUMNS = (
    "prompt",
    "deployment",
    "score",
    "cost",
    "latency_ms",
    "request_id",
    "source",
    "category",
)
WIDE_META = {"prompt", "sample_id", "eval_name", "oracle_model_to_route_to", "id", "category"}


class DatasetError(ValueError):
    pass


# -- files ------------------------------------------------------------------------------------
def _suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".pq"):
        if name.endswith(ext):
            return ext
    raise DatasetError(f"{path}: unknown file type (use .jsonl, .csv or .parquet)")


# What makes a spreadsheet read a CSV cell as a formula (OWASP's list): such a cell is written
# with a leading "'" (CSV injection). A cell that already starts with "'"s before one of these
# gets one more, so reading strips exactly one and every text round-trips.
_FORMULA = frozenset("=+-@\t\r")


def _inert(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: prompts, request ids and model names come from
    clients, and ``=HYPERLINK(...)`` or ``=cmd|...`` in one would run when the file is opened."""
    if isinstance(value, str) and value and value.lstrip("'")[:1] in _FORMULA:
        return "'" + value
    return value


def _restored(value: str) -> str:
    """The text :func:`_inert` was given (a cell it did not change comes back as it is)."""
    if value.startswith("'") and value.lstrip("'")[:1] in _FORMULA:
        return value[1:]
    return value


def _cell(value: str) -> Any:
    """A CSV cell as the value it spells (CSV has no types)."""
    text = value.strip()
    if text == "":
        return None
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return float(text) if any(c in text for c in ".eE") or text.lstrip("-").isdigit() else text
    except ValueError:
        return text


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    ext = _suffix(path)
    if ext == ".csv":
        csv.field_size_limit(1 << 30)
        with path.open(newline="", encoding="utf-8") as f:
            return [
                {k: _cell(_restored(v or "")) for k, v in row.items()} for row in csv.DictReader(f)
            ]
    if ext in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows
    text = path.read_text(encoding="utf-8")
    if ext == ".json" and text.lstrip().startswith("["):
        loaded = json.loads(text)
        return [r for r in loaded if isinstance(r, dict)]
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{n}: not JSON ({exc})") from None
        if isinstance(row, dict):
            out.append(row)
    return out


def write_rows(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path = Path(path)
    ext = _suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(LONG_COLUMNS)
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    if ext in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
        pq.write_table(table, path)
    elif ext == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({c: _inert(row.get(c)) for c in columns})
    else:
        with path.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps({c: row.get(c) for c in columns if c in row}) + "\n")


# -- conversion -------------------------------------------------------------------------------
def prompt_of(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value if v is not None)
    if not isinstance(value, str):
        return "" if value is None else str(value)
    text = value.strip()
    if len(text) > 1 and text[0] == "[" and text[-1] == "]":
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
                return "\n".join(parsed)
    return value


def _score(value: Any, span: tuple[float, float] | None, where: str) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "false"):
            return 1.0 if low == "true" else 0.0
        try:
            value = float(low)
        except ValueError:
            raise DatasetError(f"{where}: score {value!r} is not a number") from None
    number = float(value)
    if span is not None:
        lo, hi = span
        number = (number - lo) / (hi - lo)
    if not 0.0 <= number <= 1.0:
        raise DatasetError(
            f"{where}: score {value} is outside 0..1; give the scale (e.g. --score-range 1:10)"
        )
    return number


def detect(columns: Iterable[str]) -> str:
    cols = set(columns)
    if {"prompt", "deployment"} <= cols:
        return "long"
    if {"prompt", "model_a", "model_b"} <= cols and ("winner" in cols or "winner_model_a" in cols):
        return "battles"
    if "prompt" in cols:
        return "wide"
    raise DatasetError(f"cannot tell the layout from the columns {sorted(cols)[:12]}")


def _is_score_column(rows: Sequence[Mapping[str, Any]], column: str) -> bool:
    seen = False
    for row in rows[:200]:
        value = row.get(column)
        if value is None:
            continue
        if isinstance(value, bool | int | float):
            seen = True
            continue
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            seen = True
            continue
        return False
    return seen


def convert(
    rows: Sequence[Mapping[str, Any]],
    layout: str = "auto",
    mapping: Mapping[str, str] | None = None,
    score_range: tuple[float, float] | None = None,
    source: str = "import",
) -> list[dict[str, Any]]:
    """Rows of any supported layout → long rows with deployment ids."""
    if not rows:
        return []
    columns: list[str] = []
    for row in rows[:200]:
        columns.extend(k for k in row if k not in columns)
    layout = detect(columns) if layout == "auto" else layout
    mapping = dict(mapping or {})

    def name(model: str) -> str | None:
        if not mapping:
            return model
        return mapping.get(model)

    out: list[dict[str, Any]] = []
    if layout == "long":
        for i, row in enumerate(rows):
            deployment = name(str(row.get("deployment")))
            if deployment is None:
                continue
            out.append(
                {
                    **{k: row[k] for k in LONG_COLUMNS if k in row},
                    "prompt": prompt_of(row.get("prompt")),
                    "deployment": deployment,
                    "score": _score(row.get("score"), score_range, f"row {i + 1}"),
                }
            )
        return out
    if layout == "battles":
        for i, row in enumerate(rows):
            prompt = prompt_of(row.get("prompt"))
            a, b = _battle(row, f"row {i + 1}")
            for side, model, won in (("a", row.get("model_a"), a), ("b", row.get("model_b"), b)):
                deployment = name(str(model))
                if deployment is None or not prompt:
                    continue
                out.append(
                    {
                        "prompt": prompt,
                        "deployment": deployment,
                        "score": won,
                        "source": f"{source}:battle",
                        "request_id": _rid(row, side),
                    }
                )
        return out
    if layout != "wide":
        raise DatasetError(f"unknown layout {layout!r} (auto, long, wide, battles)")
    models = [
        c for c in columns if c not in WIDE_META and "|" not in c and _is_score_column(rows, c)
    ]
    if not models:
        raise DatasetError("no model score columns found (columns with 0/1 or numeric scores)")
    for i, row in enumerate(rows):
        prompt = prompt_of(row.get("prompt"))
        if not prompt:
            continue
        for model in models:
            deployment = name(model)
            score = _score(row.get(model), score_range, f"row {i + 1}, {model}")
            if deployment is None or score is None:
                continue
            cost = row.get(f"{model}|total_cost")
            item: dict[str, Any] = {
                "prompt": prompt,
                "deployment": deployment,
                "score": score,
                "source": source,
            }
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                item["cost"] = float(cost)
            if row.get("eval_name") is not None:
                item["category"] = str(row["eval_name"])
            out.append(item)
    return out


def _rid(row: Mapping[str, Any], side: str) -> str | None:
    rid = row.get("id") or row.get("question_id")
    return None if rid is None else f"{rid}:{side}"


def _battle(row: Mapping[str, Any], where: str) -> tuple[float, float]:
    winner = row.get("winner")
    if isinstance(winner, str):
        w = winner.strip().lower()
        table = {
            "model_a": (1.0, 0.0),
            "model_b": (0.0, 1.0),
            "tie": (0.5, 0.5),
            "tie (bothbad)": (0.0, 0.0),
        }
        if w in table:
            return table[w]
        raise DatasetError(f"{where}: unknown winner {winner!r}")
    a, b = row.get("winner_model_a"), row.get("winner_model_b")
    if _truthy(a):
        return 1.0, 0.0
    if _truthy(b):
        return 0.0, 1.0
    return 0.5, 0.5


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "1.0", "true")
    return bool(value)


# -- grouping ---------------------------------------------------------------------------------
def prompt_id(prompt: str) -> str:
    return hashlib.blake2b(prompt.encode("utf-8", "replace"), digest_size=10).hexdigest()


def labelled(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows usable for training: a prompt, a deployment and a score in range."""
    out = []
    for row in rows:
        score = row.get("score")
        if not isinstance(score, int | float) or isinstance(score, bool) or math.isnan(score):
            continue
        if not 0.0 <= float(score) <= 1.0:
            continue
        prompt, deployment = row.get("prompt"), row.get("deployment")
        if isinstance(prompt, str) and prompt and isinstance(deployment, str) and deployment:
            out.append(dict(row))
    return out


def fingerprint(rows: Iterable[Mapping[str, Any]]) -> str:
    """Identifies the training data by content, whatever its row order or file format."""
    items = sorted(
        json.dumps(
            [r.get("prompt"), r.get("deployment"), r.get("score"), r.get("cost")],
            ensure_ascii=False,
        )
        for r in rows
    )
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.encode("utf-8", "surrogatepass"))  # a lone surrogate: still bytes
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()
