"""The admin API's request bodies: bounded, and strict JSON where they claim to be JSON.

FastAPI reads a body whole before any dependency runs, so before this an unauthenticated
``POST /admin/keys`` of 200 MB was buffered (peak RSS 516 MB) only to be refused. And it parses
with the standard library, which accepts what the stores and encoders behind it refuse: lone
UTF-16 surrogates (``"\\ud800"``: a 503 from the key store, a 500 from a provider's name) and
``NaN``/``Infinity``. Here a body is read up to ``server.max_body_bytes`` (the model routes'
limit; 413 beyond it, before more is read), a JSON one is checked with orjson (strict JSON:
422 in FastAPI's own shape otherwise), and the app is handed the bytes read.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.api.io import JSON, ClientDisconnected, read_body, send_bytes
from turnout.errors import Overloaded, PayloadTooLarge
from turnout.state import GatewayState
from turnout.types import Headers, Message, Receive, Scope, Send

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def _is_json(headers: dict[bytes, bytes]) -> bool:
    kind = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or kind.endswith(b"+json")


class BoundedBody:
    """ASGI middleware around the admin app."""

    def __init__(self, app: Any, state: GatewayState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        server = self.state.runtime.config.server
        memory = self.state.bodies
        try:
            body = await read_body(
                receive, headers, server.max_body_bytes, memory, server.max_held_body_bytes
            )
        except PayloadTooLarge as exc:
            await _reply(send, 413, {"detail": exc.message})
            return
        except Overloaded as exc:
            await _reply(send, 503, {"detail": exc.message}, exc.headers())
            return
        except ClientDisconnected:
            return
        try:
            await self._serve(scope, receive, send, headers, body)
        finally:
            memory.release(body)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes], body: bytes
    ) -> None:
        if body and _is_json(headers):
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                problem = {"loc": ["body"], "msg": f"not valid JSON: {exc}", "type": "json_invalid"}
                await _reply(send, 422, {"detail": [problem]})
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # after the body, what the connection says next (a disconnect)
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _reply(
    send: Send, status: int, data: dict[str, Any], extra: Headers | None = None
) -> None:
    await send_bytes(send, status, [JSON, *(extra or ())], orjson.dumps(data))
