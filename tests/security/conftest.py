"""The hostile upstream shared by the security tests (it records every request it gets)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.procs import Proc, rogue_reset, start_rogue


@pytest.fixture(scope="session")
def rogue_server() -> Iterator[Proc]:
    proc = start_rogue()
    yield proc
    proc.stop()


@pytest.fixture
def rogue(rogue_server: Proc) -> Proc:
    """The rogue upstream with an empty request record."""
    rogue_reset(rogue_server)
    return rogue_server
