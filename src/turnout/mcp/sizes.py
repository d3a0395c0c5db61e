"""The size of a JSON value the MCP SDK parsed, for accounting and the message cap.

orjson measures fastest but refuses what the SDK's parser accepts: integers beyond 64 bits
(``{"a": 10**30}`` in a tool's arguments or result raised ``TypeError`` out of the call, an
internal error for a valid message). Those values are measured by the standard library.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON."""
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        return len(text.encode("utf-8", "surrogatepass"))
