"""Pagination cursors, template globs and forwarded ``_meta`` of the MCP views."""

from __future__ import annotations

import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from turnout.mcp import names
from turnout.mcp.views import _forwarded_meta, _page, _template_glob


def test_pages_and_cursors() -> None:
    items = [{"name": str(i)} for i in range(1200)]
    first = _page(items, "tools", None)
    assert len(first["tools"]) == 500 and first["resultType"] == "complete"
    second = _page(items, "tools", types.PaginatedRequestParams(cursor=first["nextCursor"]))
    third = _page(items, "tools", types.PaginatedRequestParams(cursor=second["nextCursor"]))
    assert len(third["tools"]) == 200 and "nextCursor" not in third
    for bad in ("%%%", "bm90LWEtbnVtYmVy", "LTE="):  # not base64, not a number, negative
        with pytest.raises(MCPError):
            _page(items, "tools", types.PaginatedRequestParams(cursor=bad))


def test_a_template_makes_the_uris_its_glob_matches() -> None:
    glob = _template_glob("greeting://{who}/{lang}")
    assert names.matches([glob], "greeting://ann/en")
    assert not names.matches([glob], "other://ann")
    assert _template_glob("a[b]://{x}") == "a[[]b]://*"  # a bracket is a character, not a set


def test_forwarded_meta_drops_the_progress_token_and_reserved_keys() -> None:
    meta = {"progress_token": 7, "io.modelcontextprotocol/clientInfo": {}, "trace": "t1"}
    assert _forwarded_meta(meta) == {"trace": "t1"}
    assert _forwarded_meta({"progress_token": 1}) is None
    assert _forwarded_meta(None) is None
