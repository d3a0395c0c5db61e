"""A new SQLite file made at the migrations' head in one step, without Alembic.

Every ``turnout serve`` on a fresh directory (the embedded default), and every test that starts
a gateway, begins with an empty SQLite file. Running the migration scripts there imports
Alembic (and, through it, Mako and Pygments) and replays every revision one ALTER at a time:
about a fifth of the CPU a gateway spends starting. An empty database needs none of that
history: the declared tables (:mod:`turnout.storage.sql.tables`, which
``tests/contract/test_sql_schema.py`` holds equal to what the migrations build), the rows the
migrations seed, and the head stamped. ``tests/contract/test_sql_fresh.py`` compares a file made
here with one made by the migrations, column by column, index by index, row by row.

PostgreSQL is always migrated by Alembic: its request log is partitioned by day in the
migrations, which the declared tables do not say.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from turnout.storage.sql.tables import managed_version, metadata, tenancy_version

# The rows the migrations insert into an empty schema (b7d4e1f09a2c, d5f1b2c3a4e6).
_SEEDS = ((tenancy_version, {"id": 1, "version": 0}), (managed_version, {"id": 1, "version": 0}))


def blank(connection: Connection) -> bool:
    """Has the database no table at all (a file SQLite has just made)?"""
    return not inspect(connection).get_table_names()


def create(connection: Connection, head: str) -> None:
    """The declared schema, its seed rows and Alembic's version table at ``head``."""
    metadata.create_all(connection)
    for table, row in _SEEDS:
        connection.execute(table.insert().values(**row))
    # Alembic's own table, as its migration context makes it, so that later upgrades see it.
    connection.execute(
        text(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
    )
    connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})
