"""The provider key masked in a committed stream wherever the upstream's chunks cut it: the
client's bytes, joined, are the upstream's with every copy of the key masked, whatever the
cut points, and nothing is lost or reordered (turnout.providers.keymask, routing.stream)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

from turnout.health.targets import DeploymentHealth
from turnout.providers.keymask import MASKED, masked_headers, scrub, without_key
from turnout.routing.stream import Committed

KEY = b"sk-proj-0123456789abcdef"
TEXT = b'data: {"said": "sk-p sk-proj-0123 ' + KEY + b" and " + KEY + KEY + b' sk-proj"}\n\n'


class Slot:
    """The deployment's in-flight slot: counts its releases."""

    left = 0

    def leave(self) -> None:
        self.left += 1

    def fail(self, now: float, reason: str) -> None:
        raise AssertionError("a clean end is no failure")


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _relay(parts: list[bytes], key: bytes | None = KEY) -> tuple[list[bytes], int]:
    slot = Slot()
    health: DeploymentHealth = slot  # type: ignore[assignment]  # duck-typed: leave, fail
    committed = Committed(parts[0], _chunks(parts[1:]), health, lambda: 0.0, key)

    async def drain() -> list[bytes]:
        return [chunk async for chunk in committed]

    return asyncio.run(drain()), slot.left


def test_every_two_and_three_way_cut_is_masked() -> None:
    want = TEXT.replace(KEY, MASKED)
    cuts = range(1, len(TEXT))
    for a, b in itertools.chain(((c, c) for c in cuts), itertools.combinations(cuts, 2)):
        parts = [p for p in (TEXT[:a], TEXT[a:b], TEXT[b:]) if p]
        out, released = _relay(parts)
        assert b"".join(out) == want, (a, b)
        assert all(out) and released == 1


def test_a_stream_without_the_key_goes_through_chunk_for_chunk() -> None:
    parts = [b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"]
    assert _relay(parts)[0] == parts
    held = [b"data: s", b"k-proj-01\n\n"]  # the key's first bytes, then no key
    assert b"".join(_relay(held)[0]) == b"".join(held)
    # A tail held back as a possible key start is sent at the end of the stream.
    assert _relay([b"data: sk-proj-0"])[0] == [b"data: ", b"sk-proj-0"]


def test_a_short_key_is_not_searched() -> None:
    parts = [b"none", b"none"]
    assert _relay(parts, None)[0] == parts
    assert without_key(b"none of it", "none") == b"none of it"


def test_scrub_holds_only_a_tail_that_can_start_the_key() -> None:
    assert scrub(b"abc sk-pro", KEY) == (b"abc ", b"sk-pro")
    assert scrub(b"abc sk-x\n", KEY) == (b"abc sk-x\n", b"")
    assert scrub(KEY + b"s", KEY) == (MASKED, b"s")


def test_headers_are_masked_and_untouched_lists_kept() -> None:
    headers = [(b"x-a", b"1"), (b"x-echo", b"Bearer " + KEY)]
    assert masked_headers(headers, KEY) == [(b"x-a", b"1"), (b"x-echo", b"Bearer " + MASKED)]
    clean = [(b"x-a", b"1")]
    assert masked_headers(clean, KEY) is clean
