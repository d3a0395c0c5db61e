"""The hostile cloud upstream (``hostile.py``) every module of this folder may start: one per
module, through the ``hostile`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procs import PYTHON, Proc, free_port


def start_hostile() -> Proc:
    port = free_port()
    program = str(Path(__file__).with_name("hostile.py"))
    return Proc([PYTHON, program, "--port", str(port)], port, "/_hostile/requests")


def requests_seen(upstream: Proc) -> list[dict[str, Any]]:
    """What the hostile upstream received, in order."""
    seen: list[dict[str, Any]] = httpx.get(upstream.url + "/_hostile/requests").json()
    return seen


@pytest.fixture(scope="module")
def hostile() -> Iterator[Proc]:
    proc = start_hostile()
    yield proc
    proc.stop()
