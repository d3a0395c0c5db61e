"""The tables, in SQLAlchemy Core (the request log is written in bulk and read by aggregate
queries; an ORM would add cost and nothing else). Alembic migrations create them; this module
is what queries are written against, and what ``migrations/`` is checked against in tests.

The request log's primary key leads with ``ts``: every usage query is a time range, and on
PostgreSQL the table is partitioned by day on ``ts`` (a partitioned table's keys must include
the partition column). One more index serves per-model reads; every index costs each insert
(on SQLite the two secondary indexes first planned cost 5 of 14 µs per row), so the one for
gateway keys comes with gateway keys (budgets read spend per key and team from it).

The rollup tables (``route_minute``, ``route_hour``, ``caller_hour``, ``latency_minute``) hold
sums of the request log per time bucket (epoch seconds) and group, written with each batch
(:mod:`turnout.storage.rollup`); the dashboard's charts read only them. Missing dimensions
are stored as '' so that they can be part of the primary key, which upserts add into.

Teams, gateway keys and provider credentials (docs/keys-and-limits.md) are small tables read
whole into memory by every replica. Each change takes the next number from
``tenancy_version`` and stamps the changed row with it, so a replica polls one integer and then
reads only the rows it has not seen; rows are never deleted (revoked and deleted are
timestamps), so the change feed needs no tombstones.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from turnout.storage.rollup import CALLER_DIMS, MEASURES, ROUTE_DIMS

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

request_log = Table(
    "request_log",
    metadata,
    Column("ts", DateTime(timezone=True), primary_key=True),
    Column("id", String, primary_key=True),
    Column("request_id", String),
    Column("gateway_key", String),
    Column("team", String),
    Column("protocol", String),
    Column("operation", String),
    Column("model", String),
    Column("provider", String),
    Column("deployment", String),
    Column("key_id", String),
    Column("attempts", SmallInteger),
    Column("attempt_log", Text),
    Column("status", SmallInteger),
    Column("error", String),
    Column("latency_ms", Float),
    Column("ttft_ms", Float),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cached_tokens", Integer),
    Column("reasoning_tokens", Integer),
    Column("cost", Float),
    Column("stream", Boolean),
    Column("cache_hit", Boolean),
    Column("fallback", String),
    Column("guardrails", Text),  # plugins' decisions, JSON [[plugin, rule, action], ...]
    Column("task_id", String),  # an A2A agent's task
    Column("bytes_in", BigInteger),  # agents and tools: the request's bytes
    Column("bytes_out", BigInteger),  # and the answer's, as relayed
    Column("task_state", String),  # an A2A task's new state, on the row of a state change
    # On PostgreSQL it is partitioned BY RANGE (ts): the migration's DDL says so, not this
    # definition, whose keyword would load the PostgreSQL dialect (~4 MB resident) in every
    # gateway, SQLite ones too (docs/measurements.md#memory).
)
Index(None, request_log.c.model, request_log.c.ts)
Index(None, request_log.c.gateway_key, request_log.c.ts)


def _measures() -> list[Column[Any]]:
    floats = ("cost", "latency_ms_sum", "ttft_ms_sum")
    return [
        Column(name, Float if name in floats else BigInteger, nullable=False) for name in MEASURES
    ]


def _dims(*names: str) -> list[Column[Any]]:
    return [Column(name, String, primary_key=True) for name in names]


route_minute = Table(
    "route_minute",
    metadata,
    Column("bucket", BigInteger, primary_key=True),
    *_dims(*ROUTE_DIMS),
    *_measures(),
)
route_hour = Table(
    "route_hour",
    metadata,
    Column("bucket", BigInteger, primary_key=True),
    *_dims(*ROUTE_DIMS),
    *_measures(),
)
caller_hour = Table(
    "caller_hour",
    metadata,
    Column("bucket", BigInteger, primary_key=True),
    *_dims(*CALLER_DIMS),
    *_measures(),
)
latency_minute = Table(
    "latency_minute",
    metadata,
    Column("bucket", BigInteger, primary_key=True),
    Column("metric", SmallInteger, primary_key=True),
    Column("bin", SmallInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
)

health_state = Table(
    "health_state",
    metadata,
    Column("kind", String, primary_key=True),
    Column("id", String, primary_key=True),
    Column("record", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("name", String, primary_key=True),
    Column("record", Text, nullable=False),  # JSON: models, limits, budget, metadata
    Column("version", BigInteger, nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
)

gateway_keys = Table(
    "gateway_keys",
    metadata,
    Column("id", String, primary_key=True),
    Column("hash", String, nullable=False),  # SHA-256 of the key, hex; the key is never stored
    Column("prefix", String, nullable=False),
    Column("team", String),
    Column("record", Text, nullable=False),  # JSON: name, models, limits, budget, metadata
    Column("expires_at", DateTime(timezone=True)),
    Column("version", BigInteger, nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    UniqueConstraint("hash"),
)

tenancy_version = Table(
    "tenancy_version",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# Dashboard sessions signed out (turnout.dashboard.session): a session is a signed cookie every
# replica accepts, so its sign-out is a row each replica's key-store poll reads (version: the
# tenancy counter's), kept until the session would have expired anyway.
signed_out_sessions = Table(
    "signed_out_sessions",
    metadata,
    Column("sid", String, primary_key=True),
    Column("expires", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False, index=True),
)

provider_credentials = Table(
    "provider_credentials",
    metadata,
    Column("id", String, primary_key=True),
    Column("provider", String, nullable=False),
    Column("name", String),
    Column("mask", String, nullable=False),
    Column("secret", Text, nullable=False),  # AES-256-GCM, see turnout.crypto
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
)

# Quality labels of answers, for learned routing (docs/learned-routing.md): one per request and
# source ("feedback" from POST /v1/feedback, "judge:<model>" from turnout router label); a
# newer label from the same source replaces the older one.
route_labels = Table(
    "route_labels",
    metadata,
    Column("request_id", String, primary_key=True),
    Column("source", String, primary_key=True),
    Column("score", Float, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("detail", Text),
)
# A key's feedback is kept to its newest labels (router/labels.py, trim): counted by source.
Index("ix_route_labels_source_ts", route_labels.c.source, route_labels.c.ts)

# Providers and models managed through the admin API (docs/configuration.md#providers-and-
# models-through-the-admin-api): one row per entry, the section as JSON, a provider's keys
# sealed apart. Each write takes the next number of ``managed_version`` in its transaction;
# replicas poll that one integer and reload the whole (small) table when it moved.
managed_entries = Table(
    "managed_entries",
    metadata,
    Column("kind", String, primary_key=True),  # provider | model
    Column("name", String, primary_key=True),
    Column("body", Text, nullable=False),  # JSON: the section without secrets
    Column("sealed_keys", Text, nullable=False),  # JSON list of AES-256-GCM sealed keys
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

managed_version = Table(
    "managed_version",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# Provider accounts signed in with OAuth (docs/oauth.md): tokens sealed like credentials, the
# access token's expiry, whether the account still works (and why not), and the refresh lease
# that lets one replica at a time refresh it.
oauth_accounts = Table(
    "oauth_accounts",
    metadata,
    Column("id", String, primary_key=True),
    Column("provider", String, nullable=False),
    Column("name", String),
    Column("access_token", Text, nullable=False),  # AES-256-GCM, see turnout.crypto
    Column("refresh_token", Text),  # AES-256-GCM; none when the server gave none
    Column("expires_at", DateTime(timezone=True)),
    Column("status", String, nullable=False),  # active | invalid
    Column("reason", Text),
    Column("version", BigInteger, nullable=False),
    Column("lease_owner", String),
    Column("lease_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
)

# Responses conversation state (docs/protocols.md §6.8): per response id, its owner (a gateway
# key id), when it expires (epoch seconds), and either the items a translated answer's
# follow-up replays (with the response itself) or the deployment and key fingerprint of an
# OpenAI answer, which its follow-up must reach again.
response_state = Table(
    "response_state",
    metadata,
    Column("id", String, primary_key=True),
    Column("owner", String, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("items", LargeBinary),
    Column("response", LargeBinary),
    Column("deployment", String),
    Column("key_id", String),
    Index("ix_response_state_expires_at", "expires_at"),
)


# Message Batches made through the gateway: owner and holder (turnout.batches).
message_batches = Table(
    "message_batches",
    metadata,
    Column("id", String, primary_key=True),
    Column("owner", String, nullable=False),
    Column("provider", String, nullable=False),
    Column("key_id", String, nullable=False),
    Column("models", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("batch", LargeBinary, nullable=False),
    Column("accounted", Integer, nullable=False, server_default="0"),
    Index("ix_message_batches_owner_created", "owner", "created_at"),
)


# OpenAI batch files and batches made through the gateway: owner and holder
# (turnout.openai_batches).
openai_batch_objects = Table(
    "openai_batch_objects",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("owner", String, nullable=False),
    Column("provider", String, nullable=False),
    Column("key_id", String, nullable=False),
    Column("models", LargeBinary, nullable=False),
    Column("endpoint", String, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("object", LargeBinary, nullable=False),
    Column("accounted", Integer, nullable=False, server_default="0"),
    Index("ix_openai_batch_objects_owner_created", "owner", "created_at"),
)
