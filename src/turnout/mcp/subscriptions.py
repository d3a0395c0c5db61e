"""Resource subscriptions through the gateway, in both protocol eras.

Handshake-era clients (protocol versions up to 2025-11-25) subscribe with
``resources/subscribe`` and get ``notifications/resources/updated`` on their session. At
2026-07-28 (SEP-2575) those methods are gone: a client sends ``subscriptions/listen`` with a
filter, and the response *is* the stream: first ``notifications/subscriptions/acknowledged``
(the honored subset of the filter), then every matching notification, each stamped with the
listen request's id under ``_meta["io.modelcontextprotocol/subscriptionId"]``. List-change
flags are honored too: a stream hears when a list it can see changed (a server came up, went
down, was added or removed, or announced a change), never the lists' contents.

Either way the gateway subscribes upstream (its own connections to upstream servers speak the
handshake era) and relays ``resources/updated`` under the caller's name for the resource. A
listen stream honors only the resource URIs the caller's key may read (a denied or unknown URI
is left out of the acknowledgement, the same answer for both), and only what was honored is
ever delivered. Each stream's backlog is bounded (a stream whose client stopped reading is
ended: there is no replay, the client re-listens), as are the URIs per stream, the streams
of one key and the streams per gateway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import (
    SUBSCRIPTION_ID_META_KEY,
    ResourceUpdated,
    ServerEvent,
    event_matches,
    event_to_notification,
)

from turnout.mcp.access import Access
from turnout.mcp.upstream import Upstream

if TYPE_CHECKING:
    from turnout.mcp.views import Ctx, View

Sink = Callable[[], Awaitable[None]]  # tells one subscriber, under its own name for the URI
Push = Callable[[ServerEvent], None]  # puts an event on one listen stream
MAX_STREAMS = 1024  # open listen streams per gateway process
PER_KEY = 64  # open listen streams of one key: one key cannot take all MAX_STREAMS
RATE_LIMITED = -32029  # the JSON-RPC code of a key's spent allowance (as for sessions)
MAX_URIS = 100  # resource URIs one listen stream may ask for
MAX_BACKLOG = 256  # events buffered per stream before it is ended
UNSUBSCRIBE_WITHIN = 5.0  # seconds an upstream unsubscribe may take when a stream ends


class Subscriptions:
    """Who subscribed to which upstream resource, to relay ``resources/updated``."""

    def __init__(self) -> None:
        # (upstream connection key, upstream uri) -> {subscriber: sink}
        self.by_uri: dict[tuple[str, str], dict[object, Sink]] = {}
        self.streams = 0  # open listen streams
        self.by_key: dict[str, int] = {}  # open listen streams of each key
        # listen streams that asked for list changes: {stream: (its view's server or None
        # for the aggregate, the caller, the honored filter, its push)}
        self.lists: dict[object, tuple[str | None, Access, types.SubscriptionFilter, Push]] = {}

    @staticmethod
    def session_key(ctx: Any) -> object:
        """A handshake-era session, as a subscriber."""
        return id(getattr(ctx.session, "_connection", ctx.session))

    def add(self, server: str, uri: str, who: object, sink: Sink) -> None:
        self.by_uri.setdefault((server, uri), {})[who] = sink

    def remove(self, server: str, uri: str, who: object) -> bool:
        """True when nobody is left subscribed upstream."""
        subs = self.by_uri.get((server, uri))
        if subs is None:
            return False
        subs.pop(who, None)
        if subs:
            return False
        del self.by_uri[(server, uri)]
        return True

    def lists_changed(self, server: str, event: ServerEvent) -> None:
        """One of ``server``'s lists changed: tell the streams that see it and asked."""
        for only, access, honored, push in list(self.lists.values()):
            seen = only in (None, server) and access.server(server)
            if seen and event_matches(honored, frozenset(), event):
                push(event)

    async def updated(self, server: str, uri: str) -> None:
        for who, sink in list(self.by_uri.get((server, uri), {}).items()):
            try:
                await sink()
            except Exception:  # that subscriber is gone: forget it
                self.by_uri.get((server, uri), {}).pop(who, None)


async def listen(
    view: View, ctx: Ctx, access: Access, params: types.SubscriptionsListenRequestParams
) -> types.SubscriptionsListenResult:
    """Serve one ``subscriptions/listen`` stream until the client goes away."""
    stream_id = ctx.request_id
    if stream_id is None:
        raise MCPError(types.INVALID_REQUEST, "subscriptions/listen requires a request id")
    subs = view.service.subscriptions
    key = access.key_id
    if key is not None and subs.by_key.get(key, 0) >= PER_KEY:
        raise MCPError(
            RATE_LIMITED,
            f"This key has {PER_KEY} listen streams open: end one before opening another.",
        )
    if subs.streams >= MAX_STREAMS:
        raise MCPError(types.INTERNAL_ERROR, "Subscription limit reached")
    requested = list(dict.fromkeys(params.notifications.resource_subscriptions or ()))
    if len(requested) > MAX_URIS:
        raise MCPError(types.INVALID_PARAMS, f"At most {MAX_URIS} resource subscriptions")
    meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: stream_id}
    send, recv = anyio.create_memory_object_stream[ServerEvent](MAX_BACKLOG)
    me = object()
    watched: list[tuple[Upstream, str]] = []
    asked = params.notifications
    flags = types.SubscriptionFilter(  # list changes: every one asked for is honored
        tools_list_changed=True if asked.tools_list_changed else None,
        prompts_list_changed=True if asked.prompts_list_changed else None,
        resources_list_changed=True if asked.resources_list_changed else None,
    )

    def push(event: ServerEvent) -> None:
        try:
            send.send_nowait(event)
        except anyio.WouldBlock:  # the client stopped reading: end its stream
            send.close()
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    def sink_for(shown: str) -> Sink:
        async def sink() -> None:
            push(ResourceUpdated(uri=shown))

        return sink

    subs.streams += 1
    if key is not None:
        subs.by_key[key] = subs.by_key.get(key, 0) + 1
    try:
        honored: list[str] = []
        for uri in requested:
            try:
                up, own = view.resolve_uri(uri)
                up = await view.live(ctx, up)
                view.check_resource(access, up, own, uri)
                await _subscribe(up, own)
            except MCPError:  # unknown, denied or unavailable: not honored
                continue
            subs.add(up.key, own, me, sink_for(uri))
            watched.append((up, own))
            honored.append(uri)
        if flags.tools_list_changed or flags.prompts_list_changed or flags.resources_list_changed:
            subs.lists[me] = (view.only, access, flags, push)
        ack = types.SubscriptionsAcknowledgedNotification(
            params=types.SubscriptionsAcknowledgedNotificationParams(
                notifications=flags.model_copy(update={"resource_subscriptions": honored or None}),
                _meta=meta,
            )
        )
        await ctx.session.send_notification(ack, related_request_id=stream_id)
        async for event in recv:
            await ctx.session.send_notification(
                event_to_notification(event, meta), related_request_id=stream_id
            )
    finally:
        subs.streams -= 1
        if key is not None:
            left = subs.by_key.get(key, 1) - 1
            if left > 0:
                subs.by_key[key] = left
            else:
                subs.by_key.pop(key, None)
        subs.lists.pop(me, None)
        send.close()
        recv.close()
        with anyio.CancelScope(shield=True), anyio.move_on_after(UNSUBSCRIBE_WITHIN):
            for up, own in watched:
                if subs.remove(up.key, own, me):
                    await _unsubscribe(up, own)
    return types.SubscriptionsListenResult(_meta=meta)


async def _subscribe(up: Upstream, own: str) -> None:
    await up.request("resources/subscribe", lambda c: c.session.subscribe_resource(own))


async def _unsubscribe(up: Upstream, own: str) -> None:
    with contextlib.suppress(MCPError):  # the upstream is gone anyway
        await up.request("resources/unsubscribe", lambda c: c.session.unsubscribe_resource(own))
