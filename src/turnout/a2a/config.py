"""The ``agents:`` section: each A2A agent the gateway puts behind ``/a2a/{name}``.

Closed like the rest of the config (a typo is refused, never ignored). The same model
validates agents added through the admin API (:mod:`turnout.a2a.admin`), so a YAML entry and
an API body are one shape.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# A name is a path segment of /a2a/{name} and a label of the request log: kept plain.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _agent_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return url


AgentURL = Annotated[str, AfterValidator(_agent_url)]
AgentName = Annotated[str, Field(pattern=NAME.pattern + "$")]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentAuth(_Closed):
    """How the gateway authenticates to the agent (never the caller's key: that stays here)."""

    type: Literal["none", "bearer", "header", "oauth2"] = Field(
        "none", description="bearer token, a fixed header, or OAuth 2.0 client credentials"
    )
    token: str | None = Field(None, description="bearer: the token sent to the agent")
    header: str | None = Field(None, description="header: its name")
    value: str | None = Field(None, description="header: its value")
    token_url: AgentURL | None = Field(None, description="oauth2: the token endpoint")
    client_id: str | None = Field(None, description="oauth2: the client id")
    client_secret: str | None = Field(None, description="oauth2: the client secret")
    scopes: list[str] = Field(default_factory=list, description="oauth2: scopes asked for")


class AgentTimeouts(_Closed):
    connect: float = Field(10.0, gt=0, description="seconds to connect to the agent")
    read: float = Field(300.0, gt=0, description="longest silence between two reads")
    total: float = Field(3600.0, gt=0, description="longest one call may take, a stream included")


class AgentConfig(_Closed):
    url: AgentURL = Field(description="the agent's base URL; its card is fetched from it")
    card_path: str = Field(
        "/.well-known/agent-card.json", description="where the card is, under the base URL"
    )
    rpc_url: AgentURL | None = Field(
        None, description="the JSON-RPC endpoint; default: the card's JSONRPC interface"
    )
    description: str | None = Field(None, description="shown in /a2a instead of the card's")
    auth: AgentAuth = AgentAuth()
    timeouts: AgentTimeouts = AgentTimeouts()
    card_ttl: float = Field(300.0, gt=0, description="seconds a fetched card is reused")
    keys: list[str] = Field(
        default_factory=list, description="key ids that may call it; empty: any key"
    )
    teams: list[str] = Field(
        default_factory=list, description="teams whose keys may call it; empty: any team"
    )
    agent_rpm: int | None = Field(None, ge=1, description="calls per minute per key")
    team_rpm: int | None = Field(None, ge=1, description="calls per minute per team")
    max_messages_per_task: int | None = Field(
        None, ge=1, description="messages one task may receive (stops agent loops)"
    )
    max_response_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="largest answer or stream event relayed"
    )
    max_state_rows: int = Field(
        20,
        ge=0,
        le=1000,
        description="task state changes one call writes as request-log rows; past it they "
        "are counted, and the last state seen is still written (0: none)",
    )
