"""``turnout db`` and ``turnout usage`` in process, and the storage service's upkeep."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.contract.rows import row
from turnout.cli.main import app
from turnout.config.schema import StorageConfig
from turnout.storage import Storage

runner = CliRunner()


def _config(tmp_path: Path, retention: float = 30) -> Path:
    path = tmp_path / "sy.yaml"
    path.write_text(f"storage: {{url: {tmp_path}/gw.db, retention_days: {retention}}}\n")
    return path


def test_db_upgrade_then_current(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    result = runner.invoke(app, ["db", "current", "-c", str(cfg)])
    assert result.exit_code == 0 and "(empty)" in result.output and "needs" in result.output
    result = runner.invoke(app, ["db", "upgrade", "-c", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "(empty) ->" in result.output
    result = runner.invoke(app, ["db", "current", "-c", str(cfg)])
    assert "up to date" in result.output


def test_prune_and_usage_read_the_config_database(tmp_path: Path) -> None:
    cfg = _config(tmp_path, retention=1)
    now = datetime.now(UTC)

    async def fill() -> None:
        storage = Storage(StorageConfig(url=str(tmp_path / "gw.db")))
        await storage.prepare()
        await storage.logs.insert(
            [
                row(0, ts=now - timedelta(days=3)),
                row(0, ts=now - timedelta(minutes=5)),
                row(0, ts=now - timedelta(minutes=4), model="beta"),
            ]
        )
        await storage.close()

    asyncio.run(fill())
    result = runner.invoke(app, ["db", "prune", "-c", str(cfg)])
    assert result.exit_code == 0 and "1 rows pruned" in result.output, result.output
    result = runner.invoke(app, ["usage", "-c", str(cfg), "--json", "--from", "1h"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {g["group"]: g["requests"] for g in report["groups"]} == {"alpha": 1, "beta": 1}
    table = runner.invoke(app, ["usage", "-c", str(cfg), "-g", "provider"])
    assert table.exit_code == 0 and "p1" in table.output and "total" not in table.output
    bad = runner.invoke(app, ["usage", "-c", str(cfg), "-g", "colour"])
    assert bad.exit_code == 2 and "group_by must be one of" in bad.output


@pytest.mark.asyncio(loop_scope="function")
async def test_a_memory_store_and_an_unreachable_database_still_open(tmp_path: Path) -> None:
    memory = Storage(StorageConfig(url="memory://", spool_dir=str(tmp_path / "s")))
    await memory.open()
    memory.writer.put_many([row(0)])
    await memory.close()
    assert await memory.logs.count() == 1
    down = Storage(
        StorageConfig(spool_dir=str(tmp_path / "spool")),
        "postgresql+asyncpg://nobody@127.0.0.1:1/none",
    )
    await down.open()  # logs the outage, does not raise
    assert not down.writer.up
    down.writer.put_many([row(1)])
    await down.close()
    assert down.spool.segments()  # waiting for the next start
