"""Masking what the gateway sent an upstream MCP server (``turnout.mcp.echoes``)."""

from __future__ import annotations

from turnout.mcp.config import McpServerConfig
from turnout.mcp.echoes import MASKED, masked, masked_text, secrets_of, sent_to

TOKEN = 'tok-"quoted"-0123456789'


def test_a_bearer_header_masks_its_token_too() -> None:
    assert secrets_of(["Bearer abcdefgh12345", None, "short"]) == (
        "Bearer abcdefgh12345",
        "abcdefgh12345",
    )


def test_every_string_and_key_is_masked_and_clean_data_is_kept() -> None:
    secrets = secrets_of([TOKEN])
    data = {"content": [{"text": f"sent {TOKEN}"}], TOKEN: 1, "n": 10**30}
    assert masked(data, secrets) == {
        "content": [{"text": f"sent {MASKED}"}],
        MASKED: 1,
        "n": 10**30,
    }
    clean = {"content": [{"text": "nothing"}]}
    assert masked(clean, secrets) is clean
    assert masked_text(f"no: {TOKEN}.", secrets) == f"no: {MASKED}."


def test_what_a_server_is_sent() -> None:
    cfg = McpServerConfig.model_validate(
        {
            "url": "https://mcp.example/mcp",
            "auth": {"type": "bearer", "token": "configured-token-1"},
            "headers": {"x-extra": "configured-header-2"},
        }
    )

    class Flow:
        token = "fetched-access-token-3"

    assert set(sent_to(cfg, Flow())) == {
        "configured-token-1",
        "configured-header-2",
        "fetched-access-token-3",
    }
