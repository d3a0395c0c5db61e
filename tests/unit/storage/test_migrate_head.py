"""A current schema is recognised without alembic (docs/measurements.md#memory): the head read
from the scripts' text must be alembic's, and a second migrate must change nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.script import ScriptDirectory

from turnout.storage.sql.engine import (
    alembic_config,
    current_revision,
    make_engine,
    migrate,
    script_head,
)


def test_the_scripts_head_is_alembics() -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    assert script_head() == head


def test_migrate_upgrades_then_finds_the_schema_current(tmp_path: Path) -> None:
    async def run() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
        try:
            head = script_head()
            assert await migrate(engine) == (None, head)
            assert await migrate(engine) == (head, head)
            assert await current_revision(engine) == head
        finally:
            await engine.dispose()

    asyncio.run(run())
