from __future__ import annotations

from turnout.config.schema import StorageConfig
from turnout.storage.sql.engine import database_url, display, normalize


def test_the_environment_wins_over_the_config() -> None:
    cfg = StorageConfig(url="postgresql://u:p@db/gw")
    assert database_url(cfg, {}) == "postgresql+asyncpg://u:p@db/gw"
    env = {"TURNOUT_DATABASE_URL": "sqlite:///x.db"}
    assert database_url(cfg, env) == "sqlite+aiosqlite:///x.db"


def test_default_and_paths_are_sqlite_files() -> None:
    assert database_url(StorageConfig(), {}) == "sqlite+aiosqlite:///turnout.db"
    assert normalize("/var/lib/sy/gw.db") == "sqlite+aiosqlite:////var/lib/sy/gw.db"
    assert normalize("postgres://h/d") == "postgresql+asyncpg://h/d"


def test_passwords_are_hidden() -> None:
    assert "secret" not in display("postgresql+asyncpg://u:secret@h/d")
