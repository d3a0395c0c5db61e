"""The hostile upstream shared by the security tests (it records every request it gets)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security import answers
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


@pytest.fixture(scope="session")
def answers_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """A gateway whose upstreams answer what each request names (tests/security/answers.py)."""
    yield from answers.answers_gateway(tmp_path_factory.mktemp("answers"))
