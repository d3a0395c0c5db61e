"""``GET /admin/captures/{request_id}``: the captured request and response of one call.

Captures are files this gateway wrote (``capture.enabled``, docs/observability.md), already
redacted when written: credential headers, configured provider keys and anything shaped like
a key are replaced. Each replica only sees its own capture directory (unless they share one).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException

from turnout.state import GatewayState

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _find(directory: Path, request_id: str) -> tuple[list[Path], bytes | None]:
    """The capture files of a request id (the writer's own file naming), newest last."""
    name = _UNSAFE.sub("_", request_id)[:64]
    if not directory.is_dir():
        return [], None
    found = sorted(directory.glob(f"*_{name}.json"))
    return found, (found[-1].read_bytes() if found else None)


def router(state: GatewayState) -> APIRouter:
    api = APIRouter(prefix="/admin/captures", tags=["usage"])

    @api.get("/{request_id}", summary="The captured request and response of a call")
    async def capture(request_id: str) -> dict[str, Any]:
        """The newest capture of this request id (``captures`` says how many exist). 404 when
        capture is off, or the call was not captured or has been cleaned up since."""
        config = state.runtime.config.capture
        if not config.enabled:
            raise HTTPException(404, "capture is off (capture.enabled: false)")
        if not request_id or len(request_id) > 200:
            raise HTTPException(400, "request_id must be 1-200 characters")
        found, data = await asyncio.to_thread(_find, Path(config.dir), request_id)
        if data is None:
            raise HTTPException(404, f"no capture of request {request_id}")
        try:
            record = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise HTTPException(500, "the capture file is not JSON") from None
        return {"captures": len(found), "capture": record}

    return api
