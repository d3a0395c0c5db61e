"""The observability sections of the config (``logging``, ``metrics``, ``tracing``,
``capture``): apart from the schema so that it stays one readable page (docs/configuration.md
documents every field)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from turnout.config.base import Closed


class LoggingConfig(Closed):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: lines for people on a terminal, JSON lines otherwise"
    )
    requests: bool = Field(True, description="one line per request")


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class MetricsConfig(Closed):
    enabled: bool = Field(True, description="serve Prometheus metrics on GET /metrics")
    latency_buckets: list[float] = Field(
        default_factory=lambda: list(LATENCY_BUCKETS),
        description="histogram bucket bounds in seconds (latency and time to first token)",
    )
    max_label_values: int = Field(
        1000, ge=1, description="distinct values per label; beyond them: (overflow)"
    )
    access: Literal["admin", "public"] = Field(
        "admin",
        description="who may read /metrics: 'admin' (the bearer token below, the master key, a "
        "key with the admin or viewer scope; anyone while authentication is off) or 'public'",
    )
    token: str | None = Field(
        None,
        min_length=16,
        description="a bearer token that may read /metrics (Prometheus' authorization "
        "credentials); TURNOUT_METRICS_TOKEN overrides",
    )


class TracingConfig(Closed):
    enabled: bool = Field(False, description="export OpenTelemetry spans over OTLP/HTTP")
    endpoint: str = Field("http://127.0.0.1:4318/v1/traces", description="OTLP traces URL")
    headers: dict[str, str] = Field(default_factory=dict, description="sent to the collector")
    service_name: str = "turnout"
    sample_ratio: float = Field(1.0, ge=0, le=1, description="share of new traces recorded")


class CaptureConfig(Closed):
    enabled: bool = Field(False, description="write every request and response to files")
    dir: str = Field("captures", description="directory of the capture files")
    models: list[str] = Field(default_factory=list, description="globs of models; empty: all")
    max_body_bytes: int = Field(1_048_576, ge=0, description="longer bodies are truncated")
    max_files: int = Field(10_000, ge=1, description="oldest files removed beyond this")
    max_total_mb: float = Field(512.0, gt=0, description="oldest files removed beyond this")
    retention_hours: float = Field(168.0, gt=0, description="files older than this are removed")
