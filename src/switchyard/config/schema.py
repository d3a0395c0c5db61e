"""The shape of ``switchyard.yaml``.

Closed on purpose (``extra="forbid"``): a typo in a gateway config silently routing traffic
somewhere else is worse than a refusal to start. The validator turns pydantic's errors into
path-addressed messages with did-you-mean suggestions; the compiler turns the validated tree
into immutable runtime objects, so nothing on the request path touches these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ProviderType = Literal["openai", "openai-compatible", "anthropic", "gemini", "mock"]
PROVIDER_TYPES: tuple[str, ...] = ("openai", "openai-compatible", "anthropic", "gemini", "mock")


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(Closed):
    host: str = "127.0.0.1"
    port: int = Field(4141, ge=0, le=65535)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="request body limit")
    drain_timeout: float = Field(30.0, ge=0, description="seconds to finish in-flight work")
    workers: int = Field(1, ge=1)


class Timeouts(Closed):
    connect: float = Field(10.0, gt=0)
    read: float = Field(300.0, gt=0, description="max silence between two upstream reads")
    total: float = Field(600.0, gt=0, description="max duration of one upstream attempt")


class ProviderConfig(Closed):
    type: ProviderType
    base_url: str | None = None
    api_keys: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    forward_headers: list[str] = Field(
        default_factory=list, description="client header names (globs) relayed to this provider"
    )
    timeouts: Timeouts = Timeouts()  # frozen, so one shared default is safe


class DeploymentConfig(Closed):
    provider: str
    model: str = Field("*", description="upstream model name; '*' forwards the requested name")
    priority: int = 0
    weight: float = Field(1.0, gt=0)


class ModelConfig(Closed):
    strategy: str = "priority"
    deployments: list[DeploymentConfig] = Field(min_length=1)


class LoggingConfig(Closed):
    level: Literal["debug", "info", "warning", "error"] = "info"
    requests: bool = Field(True, description="one JSON line per request")


class SwitchyardConfig(Closed):
    server: ServerConfig = ServerConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    logging: LoggingConfig = LoggingConfig()
