"""Bedrock without keys uses the standard AWS credential chain; a chain that fails (a profile
that does not exist, a ``credential_process`` that fails or prints a secret in its error) is
the upstream's unavailability, a 502 that fails over and names no secret, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.support.procs import PYTHON, Proc, start_gateway

LEAKED = "process-stderr-secret-0123456789"
MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gw(hostile: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("aws-chain")
    failing = tmp / "failing.py"
    failing.write_text(f"import sys\nsys.stderr.write('{LEAKED}')\nsys.exit(3)\n")
    aws_config = tmp / "aws-config"
    aws_config.write_text(f"[profile broken]\ncredential_process = {PYTHON} {failing}\n")

    def bedrock(profile: str) -> dict[str, Any]:
        options = {"region": "us-east-1", "profile": profile}
        return {"type": "bedrock", "base_url": hostile.url, "options": options}

    config = {
        "routing": {"max_attempts": 1},
        "providers": {"missing": bedrock("no-such-profile"), "broken": bedrock("broken")},
        "models": {
            "missing": {"deployments": [{"provider": "missing", "model": "anthropic.m"}]},
            "broken": {"deployments": [{"provider": "broken", "model": "anthropic.m"}]},
        },
    }
    env = {
        "AWS_CONFIG_FILE": str(aws_config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none"),
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    proc = start_gateway(config, tmp, env=env, ready_within=60)
    yield proc
    proc.stop()


@pytest.mark.parametrize("model", ["missing", "broken"])
def test_a_failing_credential_chain_is_a_502(gw: Proc, model: str) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model=model, max_tokens=8, messages=MESSAGES)
    assert caught.value.status_code == 502, caught.value
    assert LEAKED not in caught.value.response.text
    assert LEAKED not in gw.output()
