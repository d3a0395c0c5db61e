"""What a type check of every relayed stream event would cost on the same-protocol path.

A same-protocol stream is relayed as bytes: the only work per chunk is the usage observer's
few byte searches (turnout/usage). Checking an event's types (an Anthropic delta's ``index``
an integer, its ``text`` a string) means framing the events and parsing each one's JSON, which
the translated path does anyway and the relayed one never did. This prints, per event of a
typical Anthropic text delta (one event per chunk, as upstreams write them), the nanoseconds
of: the loop alone, today's observer, ``orjson.loads`` of the event alone (the floor of any
check that reads the JSON), and the smallest whole check (frame, parse, look at the fields
an SDK's stream helper indexes or concatenates). Each is the lowest of several rounds, in
the thread's CPU time (a shared machine's wall clock counts the other processes too).

    uv run python bench/stream_check.py [--events 200000] [--rounds 7]

Figures and the decision: docs/security.md, "A relayed stream event of the wrong type".
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import orjson

from turnout.protocols.anthropic.usage import AnthropicStream

DELTA = (
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hello there, how"}}\n\n'
)
_STRINGS = ("text", "partial_json", "thinking", "signature")


class Checker:
    """The smallest sound check: complete events only (a partial one is held for the next
    chunk, as the OpenAI observer's stripping mode does), each ``data:`` line parsed."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = b""

    def feed(self, chunk: bytes) -> bytes:
        if self.held:
            chunk, self.held = self.held + chunk, b""
        end = chunk.rfind(b"\n\n") + 2
        if end != len(chunk):
            chunk, self.held = chunk[:end], chunk[end:]
        at = chunk.find(b"data:")
        while at != -1:
            stop = chunk.find(b"\n", at)
            event = orjson.loads(chunk[at + 5 : stop])
            if type(event) is not dict:
                raise ValueError("an event that is no object")
            index = event.get("index")
            if index is not None and type(index) is not int:
                raise ValueError("index")
            delta = event.get("delta")
            if type(delta) is dict:
                for name in _STRINGS:
                    value = delta.get(name)
                    if value is not None and type(value) is not str:
                        raise ValueError(name)
            at = chunk.find(b"data:", stop)
        return chunk


def _best(run: Callable[[], None], rounds: int, events: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        run()
        best = min(best, time.thread_time() - started)
    return best / events * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    n = args.events
    payload = DELTA[DELTA.find(b"data:") + 5 : -2]

    def loop() -> None:
        for _ in range(n):
            pass

    def observer() -> None:
        feed = AnthropicStream().feed
        for _ in range(n):
            feed(DELTA)

    def parse() -> None:
        loads = orjson.loads
        for _ in range(n):
            loads(payload)

    def check() -> None:
        feed = Checker().feed
        for _ in range(n):
            feed(DELTA)

    figures = {
        name: _best(run, args.rounds, n)
        for name, run in (
            ("loop", loop),
            ("observer (today)", observer),
            ("orjson.loads", parse),
            ("frame+parse+check", check),
        )
    }
    base = figures["loop"]
    for name, ns in figures.items():
        print(f"{name:>18}: {ns:7.0f} ns/event  ({ns - base:7.0f} over the loop)")
    extra = figures["frame+parse+check"] - base
    print(f"the check would add {extra:.0f} ns per event, {extra / 1000:.2f} ms per 1,000 events")


if __name__ == "__main__":
    main()
