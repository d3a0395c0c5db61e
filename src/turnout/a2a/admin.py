"""``/admin/agents``: the agent registry, live (master key or an admin key; viewers read).

    GET    /admin/agents                 every agent, where it came from, its card's state
    PUT    /admin/agents/{name}          add or replace an agent (the ``agents:`` entry's shape)
    DELETE /admin/agents/{name}          remove an agent added here
    POST   /admin/agents/{name}/refresh  fetch its card again now

An agent added here is stored in the database (:mod:`turnout.a2a.managed`): it survives a
restart and every replica sharing the database serves it. It is validated like a config
entry (and as the whole config it makes), and its URLs (base, RPC, token endpoint) are
destinations set through the admin API: the outbound policy checks them (public addresses
only unless ``outbound.allow`` admits them) before the agent exists, and again on every
connection. Agents of the config file cannot be replaced or removed here (edit the file).
Credentials are sealed at rest (``TURNOUT_SECRET_KEY``) and never shown: an agent's ``auth``
is listed by type only.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from turnout.a2a.config import NAME, AgentConfig
from turnout.a2a.managed import KIND_NAME
from turnout.a2a.registry import Agent
from turnout.a2a.service import A2AService
from turnout.errors import GatewayError, OutboundRefused
from turnout.outbound import Origin
from turnout.outbound.display import display_url, scrub_urls
from turnout.state import GatewayState


def _service(state: GatewayState) -> A2AService:
    if state.a2a is None:
        raise HTTPException(503, "the A2A gateway is not running")
    return state.a2a


def public(agent: Agent) -> dict[str, Any]:
    cfg = agent.config
    out: dict[str, Any] = cfg.model_dump(exclude={"auth"})
    for field in ("url", "rpc_url"):  # a URL may carry a credential: shown without it
        if isinstance(out.get(field), str):
            out[field] = display_url(out[field])
    out["auth"] = {"type": cfg.auth.type}
    if cfg.auth.type == "header":
        out["auth"]["header"] = cfg.auth.header
    out["name"] = agent.name
    out["source"] = "admin" if agent.origin is Origin.ADMIN else "config"
    out["card"] = {
        "fetched": agent.card is not None,
        "name": agent.card.get("name") if agent.card else None,
        "age_seconds": round(time.monotonic() - agent.fetched, 1) if agent.card else None,
        "rpc_url": display_url(agent.rpc_url) if agent.rpc_url else None,
        "error": scrub_urls(agent.failure) if agent.failure else None,
    }
    return out


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin/agents", tags=["agents"])

    @api.get("")
    async def list_agents() -> dict[str, Any]:
        service = _service(state)
        agents = sorted(service.registry.agents.values(), key=lambda a: a.name)
        return {"agents": [public(a) for a in agents]}

    @api.put("/{name}")
    async def put(name: str, body: dict[str, Any]) -> JSONResponse:
        service = _service(state)
        managed = state.managed
        if managed is None:
            raise HTTPException(503, "the gateway is still starting")
        if NAME.fullmatch(name) is None:
            raise HTTPException(400, "an agent name is letters, digits, '.', '_' and '-'")
        current = service.registry.get(name)
        if current is not None and current.origin is not Origin.ADMIN:
            raise HTTPException(409, f"agent {name} is defined in the config file")
        try:
            cfg = AgentConfig.model_validate(body)
        except ValidationError as exc:
            problems = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_input=False, include_url=False)
            ]
            raise HTTPException(422, problems) from None
        policy = service.policy
        for url in (cfg.url, cfg.rpc_url, cfg.auth.token_url):
            if url is None:
                continue
            try:
                dest = policy.check_url(url, Origin.ADMIN)
                await policy.addresses(dest, Origin.ADMIN)
            except OutboundRefused as exc:
                raise HTTPException(403, f"{exc.message} (rule: {exc.rule})") from None
            except GatewayError as exc:
                shown = display_url(url)[:200]  # never the URL's credentials
                raise HTTPException(400, f"{shown}: {scrub_urls(exc.message)}") from None
        # Stored, then served: the write is checked again as the whole config it makes,
        # and applied here (a reload) before the answer; replicas follow the database.
        outcome = await managed.put(KIND_NAME, name, body)
        agent = service.registry.get(name)
        if outcome.status >= 300 or agent is None:
            return JSONResponse(outcome.body, status_code=outcome.status)
        return JSONResponse(public(agent), status_code=outcome.status)

    @api.delete("/{name}")
    async def delete(name: str) -> JSONResponse:
        service = _service(state)
        managed = state.managed
        if managed is None:
            raise HTTPException(503, "the gateway is still starting")
        current = service.registry.get(name)
        if current is not None and current.origin is not Origin.ADMIN:
            raise HTTPException(409, f"agent {name} is defined in the config file")
        outcome = await managed.delete(KIND_NAME, name)
        if outcome.status == 404:
            raise HTTPException(404, f"no agent {name}")
        if outcome.status >= 300:
            return JSONResponse(outcome.body, status_code=outcome.status)
        return JSONResponse({"deleted": name})

    @api.post("/{name}/refresh")
    async def refresh(name: str) -> dict[str, Any]:
        service = _service(state)
        agent = service.registry.get(name)
        if agent is None:
            raise HTTPException(404, f"no agent {name}")
        agent.fetched = float("-inf")  # stale now: the next look fetches it
        agent.forget_failure()
        try:
            await agent.ensure_card(service.policy)
        except GatewayError as exc:
            raise HTTPException(502, exc.message) from None
        return public(agent)

    return api
