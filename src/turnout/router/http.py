"""A small JSON-over-HTTP client for the router commands (labelling, embeddings, reload):
they talk to a running gateway, so the standard library is enough and nothing is added to
the gateway's own dependencies."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def post_json(
    url: str, body: Any, api_key: str | None = None, timeout: float = 60.0
) -> tuple[int, bytes]:
    """POST ``body`` as JSON; returns the status and the raw answer (errors included)."""
    headers = {"content-type": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise HttpError(0, f"{url}: {exc}") from None
