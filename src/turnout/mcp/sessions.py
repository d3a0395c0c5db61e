"""How many MCP sessions one gateway key may hold open at once.

The SDK's session manager bounds the sessions of a view (10,000), not the sessions of one
caller; a session lives until its client deletes it or it has been idle for 30 minutes. One
key opening sessions in a loop (an ``initialize`` each, about 40 KB of memory apiece) could fill
a view in seconds and leave every other key answered ``503 Too many open sessions`` for half an
hour. So each key may hold :data:`PER_KEY` sessions across the views; a request that would
open one more is refused (HTTP 429, JSON-RPC ``-32029``) until one of its sessions ends.

A session counts from the request that opens it (so a burst of ``initialize`` calls cannot
slip past the count together) until the session manager no longer holds it (deleted,
expired, closed). An open gateway has no keys to count: the SDK's own bound applies.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from turnout.mcp.standing import Standing
from turnout.types import Send

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

PER_KEY = 256
SESSION_HEADER = b"mcp-session-id"


def _held(manager: StreamableHTTPSessionManager) -> Any:
    """The session ids the manager still serves (its own table: the SDK has no public view
    of it, and ``tests/mcp_gateway/test_sessions.py`` fails should it move)."""
    return manager._server_instances


class KeySessions:
    """The open sessions of each key, and the ones being opened."""

    def __init__(self, limit: int = PER_KEY) -> None:
        self.limit = limit
        # key -> session id -> (its manager, the key's standing when it opened it)
        self.open: dict[str, dict[str, tuple[StreamableHTTPSessionManager, Standing]]] = {}
        self.opening: dict[str, int] = {}

    def count(self, key: str) -> int:
        """Sessions of ``key`` still held, plus those being opened; ended ones are forgotten."""
        held = self.open.get(key)
        if held:
            for sid, (manager, _) in list(held.items()):
                if sid not in _held(manager):
                    del held[sid]
            if not held:
                del self.open[key]
        return len(self.open.get(key, ())) + self.opening.get(key, 0)

    def full(self, key: str) -> bool:
        return self.count(key) >= self.limit

    def opened(
        self, key: str, standing: Standing, manager: StreamableHTTPSessionManager, send: Send
    ) -> Opening:
        """The request that may open a session of ``key``: counted from now, then under the
        id the manager answers with (counted once: no longer as being opened)."""
        self.opening[key] = self.opening.get(key, 0) + 1
        return Opening(self, key, (manager, standing), send)

    async def end(self, gone: Callable[[str, Standing], bool]) -> None:
        """Terminate every session whose key no longer stands as it did when it opened it
        (``gone``, :mod:`.standing`): its streams close, its subscriptions go, its id answers
        404."""
        ended = []
        for key, held in list(self.open.items()):
            for sid, (manager, standing) in list(held.items()):
                if gone(key, standing):
                    del held[sid]
                    ended.append((sid, manager))
            if not held:
                del self.open[key]
        for sid, manager in ended:
            transport = _held(manager).get(sid)
            if transport is not None:
                await transport.terminate()

    def _settle(self, key: str) -> None:
        left = self.opening.get(key, 0) - 1
        if left > 0:
            self.opening[key] = left
        else:
            self.opening.pop(key, None)


class Opening:
    """One request that may open a session: :meth:`send` is its ``send``; :meth:`close` ends
    its count as an opening (whether or not a session came of it)."""

    __slots__ = ("done", "entry", "key", "sessions", "target")

    def __init__(
        self,
        sessions: KeySessions,
        key: str,
        entry: tuple[StreamableHTTPSessionManager, Standing],
        send: Send,
    ) -> None:
        self.sessions = sessions
        self.key = key
        self.entry = entry
        self.target = send
        self.done = False

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message.get("type") == "http.response.start" and not self.done:
            for name, value in message.get("headers") or ():
                if name.lower() == SESSION_HEADER:
                    sid = value.decode("latin-1")
                    self.sessions.open.setdefault(self.key, {})[sid] = self.entry
                    self.close()
                    break
        await self.target(message)

    def close(self) -> None:
        if not self.done:
            self.done = True
            self.sessions._settle(self.key)
