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
