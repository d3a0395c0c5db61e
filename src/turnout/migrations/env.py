"""Alembic environment: always runs on a connection handed over by the caller."""

from __future__ import annotations

from alembic import context

from turnout.storage.sql.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `turnout db upgrade`: it supplies the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
