"""The shape of ``turnout.yaml``.

Closed on purpose (``extra="forbid"``): a typo in a gateway config silently routing traffic
somewhere else is worse than a refusal to start (``base.Closed``). The ``providers:`` section
is in ``providers.py``. The validator turns pydantic's errors into
path-addressed messages with did-you-mean suggestions; the compiler turns the validated tree
into immutable runtime objects, so nothing on the request path touches these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveFloat

from turnout.a2a.config import AgentConfig, AgentName
from turnout.config.base import Closed
from turnout.config.observability import (
    CaptureConfig,
    LoggingConfig,
    MetricsConfig,
    TracingConfig,
)
from turnout.config.providers import ProviderConfig
from turnout.config.server import ServerConfig
from turnout.limits.kind import LEASE
from turnout.mcp.config import McpServerConfig, ServerName


class Price(Closed):
    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(0.0, ge=0, description="USD per million output tokens")


class DeploymentConfig(Closed):
    provider: str
    model: str = Field("*", description="upstream model name; '*' forwards the requested name")
    priority: int = 0
    weight: float = Field(1.0, gt=0)
    max_concurrent: int | None = Field(None, gt=0, description="requests in flight at once")
    rpm: int | None = Field(None, gt=0, description="requests per minute sent upstream")
    tpm: int | None = Field(None, gt=0, description="tokens per minute (estimated) upstream")
    price: Price | None = None
    api: Literal["responses"] | None = Field(
        None,
        description="the upstream API to call instead of the provider's usual one: "
        "'responses' for a model OpenAI serves only through the Responses API",
    )


class ModelConfig(Closed):
    strategy: str = Field("priority", description="a strategy name or 'module:Class'")
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    deployments: list[DeploymentConfig] = Field(min_length=1)
    fallbacks: list[str] = Field(
        default_factory=list, description="models tried when every deployment failed"
    )
    context_fallbacks: list[str] = Field(
        default_factory=list, description="models tried when the prompt is too long"
    )
    max_attempts: int | None = Field(None, ge=1, description="overrides routing.max_attempts")
    deadline: float | None = Field(None, gt=0, description="overrides routing.deadline")
    cache: bool | PositiveFloat | None = Field(
        None, description="cache answers: true, false, or a TTL in seconds (docs/caching.md)"
    )


class BreakerConfig(Closed):
    consecutive_failures: int = Field(5, ge=1)
    failure_rate: float = Field(0.5, gt=0, le=1)
    window: float = Field(30.0, gt=0, description="seconds over which the rate is measured")
    min_requests: int = Field(20, ge=1, description="requests in the window before the rate counts")
    cooldown: float = Field(5.0, gt=0, description="first ejection; doubles on each repeat")
    max_cooldown: float = Field(300.0, gt=0)


class Cooldowns(Closed):
    rate_limited: float = Field(5.0, ge=0, description="when a 429 carries no Retry-After")
    invalid_key: float = Field(60.0, gt=0, description="before an invalid key is tried again")
    no_quota: float = Field(300.0, gt=0, description="before a key without quota is tried again")
    max_retry_after: float = Field(
        3600.0, gt=0, description="the longest Retry-After an upstream's 429 may impose"
    )


class RetryBudget(Closed):
    ratio: float = Field(0.2, ge=0, le=1, description="retries in flight / requests in flight")
    min_retries: int = Field(3, ge=0, description="retries always allowed in flight")


class Backoff(Closed):
    base: float = Field(0.05, ge=0)
    max: float = Field(1.0, ge=0)


class RoutingConfig(Closed):
    max_attempts: int = Field(3, ge=1, description="upstream attempts per model and request")
    deadline: float = Field(600.0, gt=0, description="seconds per request until the first byte")
    overloaded_retries: int = Field(1, ge=0, description="same-deployment retries after a 503")
    backoff: Backoff = Backoff()
    retry_budget: RetryBudget = RetryBudget()
    breaker: BreakerConfig = BreakerConfig()
    cooldowns: Cooldowns = Cooldowns()
    wildcard_models: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="per-model health records each model: '*' deployment keeps (least recently "
        "used dropped first)",
    )


class HealthConfig(Closed):
    keeper: bool = Field(False, description="run the health keeper inside serve")
    interval: float = Field(300.0, gt=0, description="seconds between two probes of one key")
    jitter: float = Field(0.2, ge=0, le=1, description="share of the interval randomised")
    timeout: float = Field(20.0, gt=0, description="seconds one probe may take")
    lease: float = Field(
        15.0, gt=0, description="seconds the keeper's lease lasts unless renewed (shared.backend)"
    )
    max_backoff: float = Field(
        3600.0, gt=0, description="longest wait between two probes of a key that keeps failing"
    )


class SharedConfig(Closed):
    """Health and routing state shared by replicas (docs/routing.md#state-across-replicas)."""

    backend: Literal["memory", "redis"] = Field(
        "memory", description="memory: this process only; redis: every replica on one Redis"
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = Field("turnout:shared:", description="Redis key prefix")
    sync_interval: float = Field(
        0.25, gt=0, le=5, description="seconds between two reads of other replicas' changes"
    )
    redis_timeout: float = Field(1.0, gt=0, description="seconds per Redis call")


class CacheConfig(Closed):
    """Response caching (docs/caching.md); models opt in with their own ``cache`` field."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    ttl: float = Field(3600.0, gt=0, description="seconds an answer is served (model: true)")
    default: bool = Field(False, description="cache models that have no cache field")
    max_bytes: int = Field(256 * 1024 * 1024, gt=0, description="memory backend size bound")
    max_item_bytes: int = Field(2 * 1024 * 1024, gt=0, description="larger answers not stored")
    namespace: Literal["team", "key", "shared"] = Field(
        "team",
        description="who may be served whose answers: team (a key without a team: its own), "
        "key, or shared across every caller",
    )
    key_prefix: str = Field("turnout:cache:", description="Redis key prefix")
    redis_timeout: float = Field(0.1, gt=0, description="seconds per Redis operation")
    redis_retry_after: float = Field(5.0, ge=0, description="seconds uncached after a failure")


class StorageConfig(Closed):
    """The database behind the request log and persisted health (docs/storage.md)."""

    enabled: bool = Field(True, description="false: no database, no request rows, no /admin/usage")
    url: str | None = Field(
        None,
        description="SQLAlchemy URL or SQLite file path; default turnout.db in the working "
        "directory; TURNOUT_DATABASE_URL overrides",
    )
    retention_days: float = Field(30.0, ge=0, description="request rows kept; 0 keeps them all")
    queue_size: int = Field(100_000, ge=1, description="rows waiting in memory for the writer")
    batch_size: int = Field(2000, ge=1, description="rows per insert")
    flush_interval: float = Field(0.2, gt=0, description="seconds between writer batches")
    spool_dir: str = Field("turnout-spool", description="rows wait here while the db is down")
    spool_max_mb: float = Field(1024.0, gt=0, description="spool size beyond which rows drop")
    ask_stream_usage: bool = Field(
        True, description="ask OpenAI streams for usage and hide the extra chunk from clients"
    )
    partitions_ahead: int = Field(3, ge=1, description="PostgreSQL: daily partitions made ahead")
    responses_ttl_hours: float = Field(
        720.0, gt=0, description="how long a Responses answer can be continued or fetched by id"
    )
    responses_max_kb: int = Field(
        4096, ge=1, description="a conversation's stored items beyond this are not kept"
    )
    responses_max_entries: int = Field(
        10_000, ge=1, description="conversations kept in memory when storage is off"
    )
    feedback_per_key: int = Field(
        10_000, ge=1, description="POST /v1/feedback labels kept per key; its oldest go first"
    )
    batches_per_key: int = Field(
        1000,
        ge=1,
        description="Message Batches a key may hold (and OpenAI batch files, and batches); "
        "past it a creation is a 429",
    )
    batch_file_mb: float = Field(
        100.0,
        gt=0,
        description="the largest OpenAI batch input file (purpose=batch) a key may upload",
    )


class ModelPriceConfig(Closed):
    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(0.0, ge=0, description="USD per million output tokens")
    cached_input: float | None = Field(None, ge=0, description="default: the input price")
    reasoning: float | None = Field(None, ge=0, description="default: the output price")


class PricingConfig(Closed):
    bundled: bool = Field(True, description="use the bundled price table for unlisted models")
    models: dict[str, ModelPriceConfig] = Field(
        default_factory=dict, description="by public model, provider/model or upstream model"
    )
    unpriced: Literal["refuse", "allow"] = Field(
        "refuse",
        description="a model without a price, asked by a key or team with a budget: 'refuse' "
        "(403 before anything is sent) or 'allow' (it costs the budget nothing)",
    )


class OIDCRoles(Closed):
    """Which values of a claim of the ID token make an operator what (docs/oauth.md)."""

    claim: str = Field("groups", description="the claim read: a string or a list of strings")
    admin: list[str] = Field(default_factory=list, description="values granting admin")
    viewer: list[str] = Field(default_factory=list, description="values granting viewer")
    team_admin: dict[str, list[str]] = Field(
        default_factory=dict, description="value → teams whose keys its holders manage"
    )


class OIDCConfig(Closed):
    """Operators sign in to the dashboard and the admin API with OpenID Connect."""

    issuer: str = Field(description="the provider's issuer URL (discovery is read from it)")
    client_id: str
    client_secret: str | None = Field(None, repr=False, description="none for a public client")
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    redirect_url: str | None = Field(
        None, description="…/admin/oidc/callback as registered; default: from the request"
    )
    roles: OIDCRoles = OIDCRoles()
    session_lifetime: float = Field(8 * 3600.0, gt=0, description="seconds a sign-in lasts")


class AuthConfig(Closed):
    """Gateway keys and the admin API (docs/keys-and-limits.md)."""

    oidc: OIDCConfig | None = Field(None, description="operator single sign-on (docs/oauth.md)")

    master_key: str | None = Field(
        None,
        min_length=16,
        description="admin API key (also accepted on /v1); TURNOUT_MASTER_KEY overrides",
    )
    refresh_interval: float = Field(
        0.5, gt=0, le=5, description="seconds between checks for key changes made elsewhere"
    )
    account_objects: Literal["refuse", "allow"] = Field(
        "refuse",
        description="whether gateway keys may name objects stored in the shared provider "
        "account (files, vector stores, stored prompts, cached contents, containers)",
    )


class LimitsConfig(Closed):
    """Where per-key and per-team rate limits and budgets are counted."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    on_redis_error: Literal["allow", "deny"] = Field(
        "allow", description="allow: a local limiter per process; deny: 503 while Redis is down"
    )
    key_prefix: str = Field("turnout:limits:", description="Redis key prefix")
    redis_timeout: float = Field(0.1, gt=0, description="seconds per Redis call")
    redis_retry_after: float = Field(1.0, gt=0, description="seconds before Redis is retried")
    output_estimate: int = Field(
        256,
        ge=0,
        description="output tokens counted for a call whose usage is unknown (max_tokens, "
        "at most this)",
    )
    budget_output_estimate: int = Field(
        4096,
        ge=0,
        description="output tokens a token limit and a budget reserve for a call that names "
        "no max_tokens",
    )
    lease: float = Field(
        LEASE,
        gt=0,
        description="seconds after which a crashed replica's or worker's slots and "
        "reservations are freed (a running call's are renewed every third of this)",
    )


class OutboundConfig(Closed):
    """The outbound policy (docs/security.md): which destinations connections may reach."""

    allow: list[str] = Field(
        default_factory=list,
        description="CIDRs and host patterns (globs) admitted although private",
    )
    check_config: bool = Field(
        False, description="also check destinations written in this file (default: trusted)"
    )
    nameservers: list[str] = Field(
        default_factory=list, description="DNS servers (host[:port]) for checked names"
    )
    resolve_timeout: float = Field(5.0, gt=0, description="seconds per name lookup")


class PluginOverride(Closed):
    """A plugin's setting for some models, teams or gateway keys (docs/plugins.md)."""

    models: list[str] = Field(default_factory=list, description="model globs; empty: any")
    teams: list[str] = Field(default_factory=list, description="team names; empty: any")
    keys: list[str] = Field(default_factory=list, description="gateway key ids; empty: any")
    enabled: bool | None = Field(None, description="turn the plugin on or off for these calls")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="merged over the plugin's settings for these calls"
    )


class PluginEntry(Closed):
    """One step of the plugin pipeline (docs/plugins.md)."""

    plugin: str = Field(description="a built-in name, an entry point or 'package.module:Class'")
    name: str | None = Field(None, description="this instance's name; default: the plugin's")
    enabled: bool = True
    models: list[str] = Field(default_factory=list, description="model globs; empty: all")
    teams: list[str] = Field(default_factory=list, description="only these teams; empty: all")
    keys: list[str] = Field(default_factory=list, description="only these key ids; empty: all")
    on_error: Literal["fail_open", "fail_closed"] = Field(
        "fail_closed", description="when a hook raises or runs out of time"
    )
    timeout: float | None = Field(
        None, gt=0, description="seconds per hook; default: the plugin's own"
    )
    settings: dict[str, Any] = Field(default_factory=dict, description="the plugin's own schema")
    overrides: list[PluginOverride] = Field(
        default_factory=list, description="per model, team or key; later ones win"
    )


class TurnoutConfig(Closed):
    server: ServerConfig = ServerConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    routing: RoutingConfig = RoutingConfig()
    health: HealthConfig = HealthConfig()
    logging: LoggingConfig = LoggingConfig()
    storage: StorageConfig = StorageConfig()
    pricing: PricingConfig = PricingConfig()
    metrics: MetricsConfig = MetricsConfig()
    tracing: TracingConfig = TracingConfig()
    capture: CaptureConfig = CaptureConfig()
    cache: CacheConfig = CacheConfig()
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    outbound: OutboundConfig = OutboundConfig()
    plugins: list[PluginEntry] = Field(
        default_factory=list, description="the plugin pipeline, in order (docs/plugins.md)"
    )
    mcp_servers: dict[ServerName, McpServerConfig] = Field(
        default_factory=dict, description="upstream MCP servers (docs/mcp.md)"
    )
    agents: dict[AgentName, AgentConfig] = Field(
        default_factory=dict, description="A2A agents served at /a2a/{name} (docs/a2a.md)"
    )
    shared: SharedConfig = SharedConfig()
