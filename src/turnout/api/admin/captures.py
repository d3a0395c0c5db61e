"""``GET /admin/captures/{request_id}``: the captured request and response of one call.

Captures are files this gateway wrote (``capture.enabled``, docs/observability.md), already
redacted when written: credential headers, configured provider keys and anything shaped like
a key are replaced. Each replica only sees its own capture directory (unless they share one).

File names carry the request id made safe for a file name (other characters as ``_``, cut at
64), so a name can belong to several ids, and a client may choose its id (``x-request-id``):
a capture is shown only when the id stored inside it is the one asked for, and, with
``key``, when it was that gateway key's call. Before, the newest file whose name merely ended
in ``_<id>`` was shown: a key that used ``zz_<another's id>`` (or that id) put its own capture
in the request log's detail view of another tenant's call.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Query

from turnout.state import GatewayState

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _find(directory: Path, request_id: str, key: str | None) -> list[bytes]:
    """The captures of exactly this request id (and key, when given), oldest first."""
    name = _UNSAFE.sub("_", request_id)[:64]
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob(f"*_{name}.json")):
        try:
            data = path.read_bytes()
            record = orjson.loads(data)
        except (OSError, orjson.JSONDecodeError):
            continue  # cleaned up meanwhile, or not a capture
        if not isinstance(record, dict) or record.get("request_id") != request_id:
            continue
        if key is not None and record.get("key_id") != key:
            continue
        found.append(data)
    return found


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin/captures", tags=["usage"])

    @api.get("/{request_id}", summary="The captured request and response of a call")
    async def capture(
        request_id: str,
        key: str | None = Query(None, description="only the call of this gateway key id"),
    ) -> dict[str, Any]:
        """The newest capture of this request id (``captures`` says how many exist; clients
        may choose their ids, so ``key`` picks the call of one gateway key). 404 when capture
        is off, or the call was not captured or has been cleaned up since."""
        config = state.runtime.config.capture
        if not config.enabled:
            raise HTTPException(404, "capture is off (capture.enabled: false)")
        if not request_id or len(request_id) > 200:
            raise HTTPException(400, "request_id must be 1-200 characters")
        found = await asyncio.to_thread(_find, Path(config.dir), request_id, key)
        if not found:
            raise HTTPException(404, f"no capture of request {request_id}")
        return {"captures": len(found), "capture": orjson.loads(found[-1])}

    return api
