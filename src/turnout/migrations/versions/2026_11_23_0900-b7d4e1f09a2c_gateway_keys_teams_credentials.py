"""Gateway keys, teams, provider credentials, and the request log's index by gateway key.

Revision ID: b7d4e1f09a2c
Revises: a1f0c3d2e5b7
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d4e1f09a2c"
down_revision: str | None = "a1f0c3d2e5b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_request_log_gateway_key_ts", "request_log", ["gateway_key", "ts"])
    op.create_table(
        "teams",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("name", name="pk_teams"),
    )
    op.create_index("ix_teams_version", "teams", ["version"])
    op.create_table(
        "gateway_keys",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("prefix", sa.String(), nullable=False),
        sa.Column("team", sa.String()),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_keys"),
        sa.UniqueConstraint("hash", name="uq_gateway_keys_hash"),
    )
    op.create_index("ix_gateway_keys_version", "gateway_keys", ["version"])
    op.create_table(
        "tenancy_version",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenancy_version"),
    )
    op.execute("INSERT INTO tenancy_version (id, version) VALUES (1, 0)")
    op.create_table(
        "provider_credentials",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("name", sa.String()),
        sa.Column("mask", sa.String(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_provider_credentials"),
    )


def downgrade() -> None:
    op.drop_table("provider_credentials")
    op.drop_table("tenancy_version")
    op.drop_index("ix_gateway_keys_version", table_name="gateway_keys")
    op.drop_table("gateway_keys")
    op.drop_index("ix_teams_version", table_name="teams")
    op.drop_table("teams")
    op.drop_index("ix_request_log_gateway_key_ts", table_name="request_log")
