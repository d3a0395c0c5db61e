"""Tables are printed whole when piped, whatever the terminal width says."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from turnout.cli.main import app

runner = CliRunner()
LONG_URL = "https://a-rather-long-host-name.internal.example.com/some/deep/path/v1"


def test_check_table_is_not_cut_when_piped(tmp_path: Path) -> None:
    path = tmp_path / "turnout.yaml"
    path.write_text(
        "providers:\n"
        f'  upstream-with-a-long-name: {{type: openai, base_url: "{LONG_URL}",'
        ' api_keys: ["sk-proj-aaaaaaaaaaaaaaaa1111", "sk-proj-bbbbbbbbbbbbbbbb2222"]}\n'
        "models:\n"
        "  a-model-with-a-long-public-name:\n"
        "    deployments: [{provider: upstream-with-a-long-name, model: upstream-model-name}]\n"
    )
    result = runner.invoke(app, ["check", "-c", str(path)], env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.output
    out = result.output
    for whole in (LONG_URL, "sk-…1111, sk-…2222", "a-model-with-a-long-public-name"):
        assert whole in out, out
    assert "…" not in out.replace("sk-…1111", "").replace("sk-…2222", "")
    assert "1111" in out and "aaaaaaaa" not in out  # masked, never revealed


def test_lists_are_tables_and_say_when_empty(tmp_path: Path) -> None:
    db = ["--database-url", str(tmp_path / "k.db")]
    empty = runner.invoke(app, ["teams", "list", *db])
    assert empty.exit_code == 0 and empty.output.strip() == "no teams"
    assert runner.invoke(app, ["keys", "list", *db]).output.strip() == "no keys"
    made = runner.invoke(app, ["teams", "create", "search", "--rpm", "600", "--budget", "5", *db])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(app, ["teams", "list", *db], env={"COLUMNS": "30"})
    lines = listed.output.splitlines()
    header = next(line for line in lines if "name" in line)
    assert "models" in header and "limits" in header and "budget" in header
    row = next(line for line in lines if "search" in line)
    assert "rpm=600" in row and "$5/month" in row


def test_check_table_shows_no_credential_of_a_base_url(tmp_path: Path) -> None:
    """``turnout check`` output ends up in CI logs: a ``?key=`` in a base URL is masked."""
    path = tmp_path / "turnout.yaml"
    path.write_text(
        "providers:\n"
        '  g: {type: openai-compatible, base_url: "https://h.example/v1?key=Zx9-query-secret",'
        ' api_keys: ["sk-proj-aaaaaaaaaaaaaaaa1111"]}\n'
        "models:\n"
        "  m: {deployments: [{provider: g}]}\n"
    )
    result = runner.invoke(app, ["check", "-c", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "https://h.example/v1?key=***" in result.output and "Zx9" not in result.output


def test_a_group_without_a_model_is_named_none() -> None:
    """A call refused before its body was read (a wrong key) has no model: its group was a
    blank cell in the usage table."""
    from rich.console import Console

    from turnout.cli.usage import table

    empty = {
        "requests": 3,
        "errors": 3,
        "error_rate": 1.0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "cost_usd": 0.0,
        "unpriced_requests": 0,
        "latency_ms": {"p50": 1.0},
        "ttft_ms": {"p50": None},
    }
    report = {"group_by": "model", "from": "a", "to": "b", "groups": [{**empty, "group": ""}]}
    console = Console(width=200, record=True)
    console.print(table(report))
    assert "(none)" in console.export_text()
