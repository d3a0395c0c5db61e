"""The gateway as an MCP server: one SDK ``Server`` per view.

A view is either the aggregate (``/mcp``: every server, names namespaced) or one server
(``/mcp/{server}``: its own names). The SDK does the protocol (version negotiation, sessions,
SSE, ping, cancellation); the handlers here only choose the upstream, apply the caller's allow
lists, rename, and forward. Lists come from the upstreams' catalogues, never from a live
request, so a slow or dead server cannot delay another's items; a server that is not up has
no items listed.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, get_args

import mcp_types as types
from mcp.server.caching import CacheableMethod, CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.shared.exceptions import MCPError

from turnout.mcp import names
from turnout.mcp.access import OPEN, Access
from turnout.mcp.echoes import masked_text
from turnout.mcp.latest import Latest
from turnout.mcp.subscriptions import Subscriptions, listen
from turnout.mcp.upstream import UNAVAILABLE, Upstream

if TYPE_CHECKING:
    from turnout.mcp.service import McpService

Ctx = ServerRequestContext[Any, Any]
PAGE = 500  # items per page of a list
SCOPE_KEY = "turnout.mcp.access"  # the ASGI scope entry the endpoint fills in
NOT_FOUND = types.INVALID_PARAMS
_RESERVED = "io.modelcontextprotocol/"
PROGRESS_WAITING = 32  # progress notifications kept for a caller that lags (turnout.mcp.latest)


def access_of(ctx: Ctx) -> Access:
    request = ctx.request
    scope = getattr(request, "scope", None)
    found = scope.get(SCOPE_KEY) if isinstance(scope, dict) else None
    return found if isinstance(found, Access) else OPEN


def _cursor(params: types.PaginatedRequestParams | None) -> int:
    raw = params.cursor if params is not None else None
    if not raw:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(raw.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise MCPError(types.INVALID_PARAMS, "Invalid cursor") from None
    if offset < 0:
        raise MCPError(types.INVALID_PARAMS, "Invalid cursor")
    return offset


def _page(items: list[dict[str, Any]], key: str, params: Any) -> dict[str, Any]:
    start = _cursor(params)
    out: dict[str, Any] = {key: items[start : start + PAGE], "resultType": "complete"}
    if start + PAGE < len(items):
        out["nextCursor"] = base64.urlsafe_b64encode(str(start + PAGE).encode()).decode()
    return out


class View:
    def __init__(self, service: McpService, server: str | None) -> None:
        self.service = service
        self.only = server  # None: the aggregate

    # -- naming ---------------------------------------------------------------------------------
    async def upstreams(self, ctx: Ctx, access: Access) -> list[Upstream]:
        """The servers whose items this caller sees now: those that are up, and for a
        passthrough server the caller's own connection if it sent its credential."""
        pool = self.service.upstreams
        chosen = [pool[self.only]] if self.only in pool else [] if self.only else pool.values()
        out = []
        for up in chosen:
            if not access.server(up.name):
                continue
            if up.passthrough:
                if credential(ctx, up.name) is None:
                    continue
                up = await up.child_for(credential(ctx, up.name), access.key_id or "")
            if up.state == "up":
                out.append(up)
        return out

    async def live(self, ctx: Ctx, up: Upstream) -> Upstream:
        """The connection a request to ``up`` goes over (the caller's own if passthrough)."""
        if not up.passthrough:
            return up
        return await up.child_for(credential(ctx, up.name), access_of(ctx).key_id or "")

    def public(self, server: str, name: str) -> str:
        return names.join(server, name) if self.only is None else name

    def public_uri(self, server: str, uri: str) -> str:
        return names.join_uri(server, uri) if self.only is None else uri

    def resolve(self, name: str) -> tuple[Upstream, str]:
        """The upstream and its own name for a name the caller used; unknown: an error."""
        if self.only is not None:
            server, own = self.only, name
        else:
            parts = names.split(name)
            if parts is None:
                raise MCPError(NOT_FOUND, f"Unknown name '{name[:200]}'")
            server, own = parts
        up = self.service.upstreams.get(server)
        if up is None:
            raise MCPError(NOT_FOUND, f"Unknown name '{name[:200]}'")
        return up, own

    def resolve_uri(self, uri: str) -> tuple[Upstream, str]:
        if self.only is not None:
            server, own = self.only, uri
        else:
            parts = names.split_uri(uri)
            if parts is None:
                raise MCPError(NOT_FOUND, f"Unknown resource '{uri[:200]}'")
            server, own = parts
        up = self.service.upstreams.get(server)
        if up is None:
            raise MCPError(NOT_FOUND, f"Unknown resource '{uri[:200]}'")
        return up, own

    def _check(self, access: Access, up: Upstream, own: str, shown: str, kind: str) -> None:
        """Only what the server listed, and the caller may see, can be used; a denied or
        hidden item answers exactly like an unknown one."""
        unknown = MCPError(NOT_FOUND, f"Unknown {kind[:-1]} '{shown[:200]}'")
        if not (up.exposes(own) and access.item(up.name, names.join(up.name, own))):
            raise unknown
        _check_up(up)  # only a caller who may use the item learns the server is down
        if not any(item.get("name") == own for item in getattr(up.catalogue, kind)):
            raise unknown

    # -- handlers -------------------------------------------------------------------------------
    async def _listed(
        self, ctx: Ctx, kind: str, field: str, *, uri: bool = False
    ) -> list[dict[str, Any]]:
        access = access_of(ctx)
        out: list[dict[str, Any]] = []
        for up in await self.upstreams(ctx, access):
            for item in getattr(up.catalogue, kind):
                own = str(item.get(field))
                full = names.join_uri(up.name, own) if uri else names.join(up.name, own)
                if not access.item(up.name, full):
                    continue
                shown = self.public_uri(up.name, own) if uri else self.public(up.name, own)
                out.append({**item, field: shown})
        return out

    async def list_tools(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> Any:
        return _page(await self._listed(ctx, "tools", "name"), "tools", params)

    async def list_prompts(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> Any:
        return _page(await self._listed(ctx, "prompts", "name"), "prompts", params)

    async def list_resources(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> Any:
        items = await self._listed(ctx, "resources", "uri", uri=True)
        return _page(items, "resources", params)

    async def list_templates(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> Any:
        items = await self._listed(ctx, "templates", "uriTemplate", uri=True)
        return _page(items, "resourceTemplates", params)

    async def call_tool(self, ctx: Ctx, params: types.CallToolRequestParams) -> Any:
        access = access_of(ctx)
        try:
            up, own = self.resolve(params.name)
            up = await self.live(ctx, up)
            self._check(access, up, own, params.name, "tools")
        except MCPError as exc:  # logged all the same (service.refused)
            self.service.refused(access, params.name, exc)
            raise
        token = (params.meta or {}).get("progress_token") if params.meta else None
        relay = _progress(ctx, token, up.secrets()) if token is not None else None
        arguments = params.arguments
        meta = _forwarded_meta(params.meta)

        async def progress(done: float, total: float | None, message: str | None) -> None:
            if relay is not None:
                relay.offer((done, total, message))

        async def call(client: Any) -> Any:
            return await client.session.call_tool(
                own, arguments, progress_callback=progress if relay else None, meta=meta
            )

        try:
            return await self.service.accounted(access, up, own, params.name, arguments, call)
        finally:
            if relay is not None:  # the last progress goes before the answer, if it is read
                await relay.close(within=1.0)

    async def get_prompt(self, ctx: Ctx, params: types.GetPromptRequestParams) -> Any:
        access = access_of(ctx)
        up, own = self.resolve(params.name)
        up = await self.live(ctx, up)
        self._check(access, up, own, params.name, "prompts")
        args = params.arguments
        return await up.request("prompts/get", lambda c: c.session.get_prompt(own, args))

    async def read_resource(self, ctx: Ctx, params: types.ReadResourceRequestParams) -> Any:
        access = access_of(ctx)
        up, own = self.resolve_uri(params.uri)
        up = await self.live(ctx, up)
        self.check_resource(access, up, own, params.uri)
        result = await up.request("resources/read", lambda c: c.session.read_resource(own))
        for content in result.get("contents") or ():
            if isinstance(content, dict) and isinstance(content.get("uri"), str):
                content["uri"] = self.public_uri(up.name, content["uri"])
        return result

    def check_resource(self, access: Access, up: Upstream, own: str, shown: str) -> None:
        """A URI is usable if it is listed, or made from a listed template (the template's
        glob, e.g. ``greeting://*``, decides)."""
        item = names.join_uri(up.name, own)
        if access.server(up.name):
            _check_up(up)
        listed = any(r.get("uri") == own for r in up.catalogue.resources)
        if listed and up.exposes(own) and access.item(up.name, item):
            return
        if any(t.get("uriTemplate") == own for t in up.catalogue.templates) and access.item(
            up.name, item
        ):
            return  # completion against a template
        # A URI a template makes: the template must be usable, and no deny rule (the server's
        # filter, the key's or the team's) may name the URI itself, however it is spelt (the
        # upstream decodes it: ``%61dmin`` is ``admin``, ``x/../admin`` may be too).
        for form in names.spellings(own):
            if up.denies(form) or access.denies(names.join_uri(up.name, form)):
                raise MCPError(NOT_FOUND, f"Unknown resource '{shown[:200]}'")
        for tpl in up.catalogue.templates:
            pattern = _template_glob(str(tpl.get("uriTemplate")))
            if not names.matches([pattern], own):
                continue
            tpl_item = names.join_uri(up.name, str(tpl.get("uriTemplate")))
            if access.item(up.name, tpl_item):
                return
        raise MCPError(NOT_FOUND, f"Unknown resource '{shown[:200]}'")

    async def subscribe(self, ctx: Ctx, params: types.SubscribeRequestParams) -> Any:
        access = access_of(ctx)
        up, own = self.resolve_uri(params.uri)
        up = await self.live(ctx, up)
        self.check_resource(access, up, own, params.uri)
        await up.request("resources/subscribe", lambda c: c.session.subscribe_resource(own))
        session, shown = ctx.session, params.uri
        latest = Latest[None](lambda _: session.send_resource_updated(shown))

        async def sink() -> None:  # never waits for the session's reader (turnout.mcp.latest)
            if latest.failed:
                raise ConnectionError("the subscribed session is gone")
            latest.offer(None)

        self.service.subscriptions.add(up.key, own, Subscriptions.session_key(ctx), sink)
        return types.EmptyResult()

    async def listen(self, ctx: Ctx, params: types.SubscriptionsListenRequestParams) -> Any:
        """2026-07-28: one listen stream (:mod:`turnout.mcp.subscriptions`)."""
        return await listen(self, ctx, access_of(ctx), params)

    async def unsubscribe(self, ctx: Ctx, params: types.UnsubscribeRequestParams) -> Any:
        up, own = self.resolve_uri(params.uri)
        up = await self.live(ctx, up)
        if self.service.subscriptions.remove(up.key, own, Subscriptions.session_key(ctx)):
            await up.request("resources/unsubscribe", lambda c: c.session.unsubscribe_resource(own))
        return types.EmptyResult()

    async def complete(self, ctx: Ctx, params: types.CompleteRequestParams) -> Any:
        access = access_of(ctx)
        ref = params.ref
        if isinstance(ref, types.PromptReference):
            up, own = self.resolve(ref.name)
            up = await self.live(ctx, up)
            self._check(access, up, own, ref.name, "prompts")
            new_ref: Any = types.PromptReference(type="ref/prompt", name=own)
        else:
            up, own = self.resolve_uri(ref.uri)
            up = await self.live(ctx, up)
            self.check_resource(access, up, own, ref.uri)
            new_ref = types.ResourceTemplateReference(type="ref/resource", uri=own)
        argument = {"name": params.argument.name, "value": params.argument.value}
        context = params.context.arguments if params.context is not None else None
        return await up.request(
            "completion/complete",
            lambda c: c.session.complete(new_ref, argument, context_arguments=context),
        )

    def server(self) -> Server[Any]:
        name = "turnout" if self.only is None else f"turnout/{self.only}"
        server: Server[Any] = Server(
            name,
            version="1",
            # What a caller sees depends on its key, and upstream lists change: never shared,
            # never fresh for long.
            cache_hints={
                m: CacheHint(ttl_ms=0, scope="private") for m in get_args(CacheableMethod)
            },
            instructions=(
                "Tools, prompts and resources of every MCP server behind this gateway, "
                "named server__name (resources: server+uri)."
                if self.only is None
                else None
            ),
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            on_list_prompts=self.list_prompts,
            on_get_prompt=self.get_prompt,
            on_list_resources=self.list_resources,
            on_list_resource_templates=self.list_templates,
            on_read_resource=self.read_resource,
            on_subscribe_resource=self.subscribe,
            on_unsubscribe_resource=self.unsubscribe,
            on_subscriptions_listen=self.listen,
            on_completion=self.complete,
        )
        return server


NOTIFICATIONS = NotificationOptions(
    prompts_changed=False, resources_changed=False, tools_changed=False
)


def _check_up(up: Upstream) -> None:
    if up.state != "up":
        raise MCPError(UNAVAILABLE, f"MCP server '{up.name}' is unavailable ({up.state})")


def credential(ctx: Ctx, server: str) -> str | None:
    """The caller's own credential for a passthrough server (never its gateway key)."""
    headers = getattr(ctx.request, "headers", None)
    value = headers.get(f"x-mcp-{server}-authorization") if headers is not None else None
    return value if isinstance(value, str) and value else None


def _template_glob(template: str) -> str:
    """``greeting://{who}`` -> ``greeting://*``: which URIs a template makes."""
    out: list[str] = []
    depth = 0
    for ch in template:
        if ch == "{":
            depth += 1
            if depth == 1:
                out.append("*")
        elif ch == "}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append("[[]" if ch == "[" else ch)
    return "".join(out)


def _forwarded_meta(meta: Any) -> Any:
    """The caller's ``_meta`` minus its progress token (the upstream gets the SDK's own) and
    the protocol's reserved keys (the caller's protocol envelope is not the upstream's)."""
    if not meta:
        return None
    out = {
        k: v
        for k, v in dict(meta).items()
        if k not in ("progress_token", "progressToken") and not k.startswith(_RESERVED)
    }
    return out or None


def _progress(
    ctx: Ctx, token: Any, secrets: tuple[str, ...]
) -> Latest[tuple[float, float | None, str | None]]:
    """Relay the upstream's progress to the caller under the caller's own token: the newest
    of it, one notification at a time (:mod:`turnout.mcp.latest`)."""
    rid = str(ctx.request_id) if ctx.request_id is not None else None

    async def relay(state: tuple[float, float | None, str | None]) -> None:
        progress, total, message = state
        message = masked_text(message, secrets) if message else message  # (echoes.py)
        await ctx.session.send_progress_notification(
            token, progress, total, message, related_request_id=rid
        )

    return Latest(relay, keep=PROGRESS_WAITING)
