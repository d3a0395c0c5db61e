"""Shared fixtures: real processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.procs import Proc, start_mock


@pytest.fixture(scope="session")
def mock() -> Iterator[Proc]:
    """One mock provider for the whole session (tests vary behaviour with x-mock-* headers)."""
    proc = start_mock()
    yield proc
    proc.stop()


@pytest.fixture(scope="session", autouse=True)
def _isolated_working_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run the session in a fresh directory: anything written at a default relative path
    (turnout.db, the spool, captures) lands there, not in the checkout, and no state
    (a gateway key in a default database) leaks from one run into the next."""
    import os

    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(previous)
