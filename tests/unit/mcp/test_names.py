"""Every spelling of a resource URI a deny rule must see (``turnout.mcp.names.spellings``)."""

from __future__ import annotations

import pytest

from turnout.mcp.names import spellings


@pytest.mark.parametrize(
    ("uri", "meant"),
    [
        ("greeting://%61dmin", "greeting://admin"),
        ("greeting://%2561dmin", "greeting://admin"),  # decoded twice
        ("greeting://x/../admin", "greeting://admin"),
        ("greeting://x/./%2e%2e/admin", "greeting://admin"),
        ("greeting://x\\..\\admin", "greeting://admin"),
        ("file:///srv/public/../secret/x", "file:///srv/secret/x"),
        ("file:///../../etc/passwd", "file:///etc/passwd"),  # '//' is never climbed over
    ],
)
def test_what_an_upstream_may_read(uri: str, meant: str) -> None:
    assert {uri, meant} <= spellings(uri)


def test_a_plain_uri_is_its_only_spelling() -> None:
    assert spellings("note://alpha/readme") == {"note://alpha/readme"}
