"""``turnout check --print-canonical`` masks every credential written literally in the file.

It masked provider keys, provider headers, the master key and the metrics token; the
collector's credential in ``tracing.headers`` (``x-honeycomb-team``), a database's or Redis's
password in its URL, an MCP server's or agent's token, an OIDC client secret and an MCP stdio
server's ``GITHUB_TOKEN`` were printed as written, to a terminal or a CI log that keeps them
(docs/security.md, "Credentials printed by `turnout check --print-canonical`").
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.procs import PYTHON

SECRETS = {
    "collector": "HONEYCOMB-SECRET-1",
    "database": "PG-PASSWORD-2",
    "redis": "REDIS-PASSWORD-3",
    "mcp": "MCP-TOKEN-SECRET-4",
    "agent": "AGENT-CLIENT-SECRET-5",
    "oidc": "OIDC-CLIENT-SECRET-6",
    "stdio": "ghp_STDIO-ENV-SECRET-7",
}

CONFIG = {
    "providers": {"p": {"type": "openai", "api_keys": ["sk-literal-provider-key-123"]}},
    "models": {"m": {"deployments": [{"provider": "p", "model": "gpt-4o"}]}},
    "tracing": {
        "enabled": True,
        "endpoint": "https://api.honeycomb.io/v1/traces",
        "headers": {"x-honeycomb-team": SECRETS["collector"]},
    },
    "storage": {"url": f"postgresql+asyncpg://turnout:{SECRETS['database']}@db.example/t"},
    "limits": {"backend": "redis", "redis_url": f"redis://:{SECRETS['redis']}@redis.example/0"},
    "mcp_servers": {
        "docs": {
            "url": "https://mcp.example.com/mcp",
            "auth": {"type": "bearer", "token": SECRETS["mcp"]},
        },
        "git": {
            "transport": "stdio",
            "command": ["git-mcp"],
            "env": {"GITHUB_TOKEN": SECRETS["stdio"], "LOG_LEVEL": "debug"},
        },
    },
    "agents": {
        "helper": {
            "url": "https://agent.example.com",
            "auth": {
                "type": "oauth2",
                "token_url": "https://agent.example.com/token",
                "client_id": "gw",
                "client_secret": SECRETS["agent"],
            },
        }
    },
    "auth": {
        "oidc": {
            "issuer": "https://idp.example.com",
            "client_id": "turnout",
            "client_secret": SECRETS["oidc"],
        }
    },
}


def test_every_literal_credential_is_masked(tmp_path: Path) -> None:
    path = tmp_path / "turnout.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    done = subprocess.run(
        [PYTHON, "-m", "turnout.cli.main", "check", "-c", str(path), "--print-canonical"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    printed = done.stdout + done.stderr
    for where, secret in SECRETS.items():
        assert secret not in printed, (where, printed)
    tree = yaml.safe_load(done.stdout)
    assert tree["storage"]["url"] == "postgresql+asyncpg://turnout:***@db.example/t"
    assert tree["mcp_servers"]["git"]["env"]["LOG_LEVEL"] == "debug"  # no credential, kept
    assert tree["tracing"]["endpoint"] == "https://api.honeycomb.io/v1/traces"
