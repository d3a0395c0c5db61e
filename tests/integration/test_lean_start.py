"""A gateway with the defaults loads none of the heavy optional libraries (docs/measurements.md
#memory): each one is imported when the feature that needs it is configured or first used.

The gateway is the real ``turnout serve`` (defaults, a master key, one gateway key with an RPM
limit, the session's mock provider) run by a two-line bootstrap that writes ``sys.modules``
when the process exits; it serves a plain and a streamed call, then is stopped with SIGTERM.
An eager import of any of these anywhere on the start or request path fails this test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import openai
import yaml

from tests.support.procs import PYTHON, Proc, mock_provider, start_gateway

MASTER = "mk-lean-start-0123456789"

# Each with what needs it; none of it is configured here.
OPTIONAL = {
    "redis": "limits/cache/shared backend redis",
    "hiredis": "redis-py's parser",
    "opentelemetry.sdk": "tracing.enabled",
    "opentelemetry.exporter": "tracing.enabled",
    "cryptography": "TURNOUT_SECRET_KEY (sealed credentials, OAuth accounts)",
    "alembic": "a database schema older than the scripts' head",
    "mako": "alembic",
    "sklearn": "learned routing",
    "numpy": "learned routing",
    "scipy": "learned routing",
    "pyarrow": "router export",
    "matplotlib": "router evaluation plots",
    "authlib": "OAuth provider accounts, OIDC",
    "joserfc": "OIDC",
    "mcp": "mcp_servers",
    "a2a": "A2A agents (the SDK; turnout.a2a is ours)",
    "google.auth": "Vertex AI",
    "botocore": "Bedrock",
    "asyncpg": "a PostgreSQL storage URL",
    "sqlalchemy.dialects.postgresql": "a PostgreSQL storage URL",
    "turnout.mock": "a provider of type mock (--demo)",
    "fastapi": "the admin API's first request",
    "rich": "the CLI's own output (structlog loads without it: turnout/__init__.py)",
    "pygments": "rich",
}

_BOOT = """
import atexit, json, os, sys
atexit.register(lambda: open(os.environ["MODULES_OUT"], "w").write(json.dumps(sorted(sys.modules))))
"""  # start_gateway runs the CLI after it


def test_defaults_import_no_optional_library(mock: Proc, tmp_path: Path) -> None:
    settings = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"*": {"deployments": [{"provider": "mock"}]}},
    }
    config = tmp_path / "turnout.yaml"  # for `keys create`: the same settings and database
    config.write_text(yaml.safe_dump(settings))
    env = {"TURNOUT_MASTER_KEY": MASTER}
    made = subprocess.run(
        [PYTHON, "-m", "turnout.cli.main", "keys", "create", "-c", str(config), "--rpm", "1000"],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    out = tmp_path / "modules.json"
    gw = start_gateway(settings, tmp_path, env={**env, "MODULES_OUT": str(out)}, boot=_BOOT)
    try:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)
        messages: list[openai.types.chat.ChatCompletionMessageParam] = [
            {"role": "user", "content": "hello"}
        ]
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert reply.choices[0].message.content
        chunks = list(
            client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
        )
        assert chunks
        gw.signal(signal.SIGTERM)
        assert gw.popen.wait(60) == 0, gw.output()
    finally:
        gw.stop()
    loaded: list[str] = json.loads(out.read_text())
    eager = {
        name: why
        for name, why in OPTIONAL.items()
        if any(m == name or m.startswith(name + ".") for m in loaded)
    }
    assert not eager, f"imported by a gateway with the defaults: {eager}"
    assert "turnout.app" in loaded  # the bootstrap saw the serving process
