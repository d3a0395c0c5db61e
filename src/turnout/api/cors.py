"""Cross-origin requests from web pages the operator names (``server.cors``).

The official SDKs run in browsers too (OpenAI's ``dangerouslyAllowBrowser``, Anthropic's
``anthropic-dangerous-direct-browser-access``), and so do a team's own web apps: before
(2026-12-08) none could call the gateway, since a browser first asks with an ``OPTIONS``
preflight, which was a 404, and reads no answer without ``Access-Control-Allow-Origin``.

Off unless ``server.cors.allow_origins`` lists origins (``https://app.example.com``, or ``*``
for any). Then, on the model API, MCP and A2A paths (never the admin API or the dashboard,
whose session is a cookie):

- a preflight from a listed origin is answered 204 with the methods, the requested headers
  that ``allow_headers`` admits (``x-stainless-*`` style prefixes allowed) and ``max_age``;
  one from another origin is a 403 without CORS headers, which the browser reports as blocked;
- every answer to a listed origin (errors and streams included) carries
  ``Access-Control-Allow-Origin`` (the origin itself, never ``*``: with ``Vary: Origin``, a
  shared cache keeps one answer per origin) and ``Access-Control-Expose-Headers``.

No credentials mode: the key travels in a header the page sets, and no cookie is ever
honoured for these paths. The listing is the operator's; a key still decides what a call may
do. While authentication is off, the open-gateway guard (:mod:`turnout.auth.browsers`) runs
first and still refuses pages whose host is not in ``server.allowed_hosts``.
"""

from __future__ import annotations

from turnout.api.io import request_id, send_error
from turnout.config.server import CorsConfig
from turnout.errors import PermissionDenied
from turnout.protocols.registry import dialect
from turnout.types import Message, Scope, Send

# Paths whose callers are web pages of the gateway's own origin, with a session cookie: never
# opened to other origins.
_OWN = ("/admin", "/docs", "/openapi.json", "/redoc", "/cache", "/ui")
_METHODS = b"GET, POST, DELETE"


class Cors:
    """``server.cors`` compiled once per config (a reload builds another)."""

    __slots__ = ("_any", "_expose", "_headers", "_max_age", "_origins", "_prefixes", "config")

    def __init__(self, config: CorsConfig) -> None:
        self.config = config
        origins = [o.strip().rstrip("/").lower() for o in config.allow_origins]
        self._any = "*" in origins
        self._origins = frozenset(o.encode("latin-1") for o in origins if o != "*")
        names = [h.strip().lower() for h in config.allow_headers if h.strip()]
        self._headers = frozenset(n for n in names if not n.endswith("*"))
        self._prefixes = tuple(n[:-1] for n in names if n.endswith("*"))
        self._expose = ", ".join(config.expose_headers).encode("latin-1")
        self._max_age = str(config.max_age).encode()

    @property
    def enabled(self) -> bool:
        return self._any or bool(self._origins)

    def allows(self, origin: bytes) -> bool:
        return self._any or origin.lower() in self._origins

    def _header_allowed(self, name: str) -> bool:
        return name in self._headers or "*" in self._headers or name.startswith(self._prefixes)

    async def serve(self, scope: Scope, send: Send) -> Send | None:
        """What the app should do with a request: None when it was a preflight (answered
        here), else the ``send`` to answer with (the same one unless the request came from
        a listed origin)."""
        if scope["path"].startswith(_OWN):
            return send
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is None:
            return send
        preflight = scope["method"] == "OPTIONS" and b"access-control-request-method" in headers
        if not self.allows(origin):
            if not preflight:
                return send
            err = PermissionDenied(
                "This origin is not listed in server.cors.allow_origins; browsers may not call "
                "the gateway from it."
            )
            await send_error(send, err, dialect(scope["path"][:64]).name, request_id(headers))
            return None
        if preflight:
            await self._preflight(origin, headers, send)
            return None
        return self._decorated(origin, send)

    async def _preflight(self, origin: bytes, headers: dict[bytes, bytes], send: Send) -> None:
        asked = headers.get(b"access-control-request-headers", b"").decode("latin-1")
        names = [n.strip().lower() for n in asked.split(",") if n.strip()][:64]
        allowed = ", ".join(n for n in names if self._header_allowed(n)).encode("latin-1")
        out = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", _METHODS),
            (b"access-control-max-age", self._max_age),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
            (b"content-length", b"0"),
        ]
        if allowed:
            out.append((b"access-control-allow-headers", allowed))
        await send({"type": "http.response.start", "status": 204, "headers": out})
        await send({"type": "http.response.body", "body": b""})

    def _decorated(self, origin: bytes, send: Send) -> Send:
        extra = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        if self._expose:
            extra.append((b"access-control-expose-headers", self._expose))

        async def decorated(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        return decorated


class CorsGate:
    """The app's: the :class:`Cors` of the serving config, rebuilt when a reload changes it;
    ``None`` from :meth:`current` while no origin is listed (the common case: one check)."""

    __slots__ = ("_cors",)

    def __init__(self, config: CorsConfig) -> None:
        self._cors: Cors | None = None
        self.use(config)

    def use(self, config: CorsConfig) -> None:
        cors = Cors(config)
        self._cors = cors if cors.enabled else None

    @property
    def current(self) -> Cors | None:
        return self._cors


__all__ = ["Cors", "CorsGate"]
