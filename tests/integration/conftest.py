"""A gateway in front of the session's mock provider, configured for the core scenarios."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import Proc, free_port, mock_provider, start_gateway


def core_config(mock: Proc) -> dict[str, object]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    return {
        "server": {"max_body_bytes": 200_000, "drain_timeout": 10},
        "providers": {
            "mock": mock_provider(mock),
            "slow": mock_provider(
                mock, headers={"x-mock-fault": "hang"}, timeouts={"connect": 2, "read": 0.5}
            ),
            "dead": {"type": "openai-compatible", "base_url": dead, "api_keys": ["sk-dead-0001"]},
        },
        "models": {
            "gpt-test": {"deployments": [{"provider": "mock", "model": "mock-upstream"}]},
            "passthrough-*": {"deployments": [{"provider": "mock"}]},
            "text-embed": {"deployments": [{"provider": "mock", "model": "embed-upstream"}]},
            "dead-model": {"deployments": [{"provider": "dead"}]},
            "slow-model": {"deployments": [{"provider": "slow"}]},
            "failover": {
                "deployments": [
                    {"provider": "dead", "priority": 0},
                    {"provider": "mock", "model": "mock-upstream", "priority": 1},
                ]
            },
        },
    }


@pytest.fixture(scope="session")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("gw")
    proc = start_gateway(core_config(mock), tmp)
    yield proc
    proc.stop()
