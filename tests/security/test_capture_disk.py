"""Capture files stay within their disk bound, whatever a caller sends, and only the gateway's
user may read them.

Two ways a caller filled the capture directory far past ``capture.max_total_mb``: files were
written indented, so a 400 KB body nested 100 levels deep became a 42 MB file (two spaces a
level on each of its 200,000 lines); and the size limit was applied only every 30 s or 200
files, so a burst of large captures was all kept until then (docs/security.md, "Filling the
disk with capture files"). And the directory and its files were created with the default
modes (0755, 0644): every local user could read the prompts and answers in them (docs/security.md,
"Capture files readable by every local user").
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import found

LIMIT_MB = 1


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("capture-disk")
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "gpt-4o-mini"}]}},
        "capture": {"enabled": True, "dir": str(tmp / "captures"), "max_total_mb": LIMIT_MB},
    }
    gw = start_gateway(config, tmp)
    gw.captures = tmp / "captures"  # type: ignore[attr-defined]
    yield gw
    gw.stop()


def _client(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)


def _send(gw: Proc, rid: str, metadata: object) -> None:
    _client(gw).chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-request-id": rid},
        extra_body={"metadata_blob": metadata},
    )


def _written(folder: Path, rid: str) -> Path:
    return found(lambda: list(folder.glob(f"*_{rid}.json")), 20, 0.05)[0]


def test_a_nested_body_is_not_amplified_on_disk(gateway: Proc) -> None:
    nested: object = [0] * 100_000  # 200 KB as JSON
    for _ in range(100):
        nested = [nested]
    _send(gateway, "nested-1", nested)
    size = _written(gateway.captures, "nested-1").stat().st_size  # type: ignore[attr-defined]
    assert size < 400_000, size  # about the body itself; 21 MB before


def test_a_burst_of_large_captures_stays_within_max_total_mb(gateway: Proc) -> None:
    blob = "x" * 300_000
    _send(gateway, "burst-0", blob)
    _written(gateway.captures, "burst-0")  # type: ignore[attr-defined]
    for i in range(1, 8):
        _send(gateway, f"burst-{i}", blob)
    last = _written(gateway.captures, "burst-7")  # type: ignore[attr-defined]
    total = sum(p.stat().st_size for p in last.parent.glob("*.json"))
    # Each file is checked in after it is written: at most one file past the limit.
    assert total <= LIMIT_MB * 1024 * 1024 + last.stat().st_size, total


def test_captures_are_readable_by_the_gateways_user_only(gateway: Proc) -> None:
    _send(gateway, "private-1", "a prompt")
    path = _written(gateway.captures, "private-1")  # type: ignore[attr-defined]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
