"""What an admitted call settles at (turnout/limits/settle.py), and the usage of a stream
its client left before the usage came (turnout/usage/base.py: cut_short, floor)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from turnout.ir.response import MAX_TOKENS
from turnout.limits.settle import used
from turnout.observability.finish import Finished
from turnout.types import Call, Usage
from turnout.usage.base import STREAM_BYTES_PER_TOKEN, billed, cut_short, floor, unanswered


class _Ticket:
    def __init__(self, tokens: int, cost: float, reserved: int | None = None) -> None:
        self.tokens, self.cost, self.floor = reserved or tokens, cost, cost
        self.expected = tokens


def _call(**fields: Any) -> Call:
    call = Call(
        protocol="openai",
        operation="chat",
        model="m",
        body=b"x" * 400,
        data={},
        stream=True,
        headers={},
        request_id="r",
        started=time.perf_counter(),
    )
    for name, value in fields.items():
        setattr(call, name, value)
    return call


def _done(call: Call, usage: Usage | None, cost: float | None, prompt: bool = False) -> Finished:
    return Finished(call, 0.0, 0.0, usage, cost, None, None, [], False, None, prompt)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "short"),
    [
        ({"status": 499, "relayed": 10}, True),
        ({"status": 200, "error": "stream:UpstreamUnavailable", "relayed": 10}, True),
        ({"status": 499, "relayed": 0}, False),  # left before the first byte: the estimate
        ({"status": 200, "relayed": 10}, False),  # complete
        ({"status": 499, "relayed": 10, "stream": False}, False),
        ({"status": 499, "relayed": 10, "cache": "hit"}, False),  # a replay: nothing upstream
        ({"status": 499, "relayed": 10, "relayed_all": True}, False),  # left at the very end
    ],
)
def test_which_calls_are_cut_short(fields: dict[str, Any], short: bool) -> None:
    assert cut_short(_call(**fields)) is short


def test_a_stream_cut_short_counts_at_least_its_relayed_bytes() -> None:
    call = _call(status=499, relayed=STREAM_BYTES_PER_TOKEN * 1000)
    assert floor(call, None) == Usage(100, 1000)
    assert floor(call, Usage(3, 1, 2, 0)) == Usage(3, 1000, 2, 0)
    assert floor(call, Usage(3, 5000)) == Usage(3, 5000)


def test_the_relayed_bytes_of_a_stream_cut_short_count_at_most_the_ceiling() -> None:
    """A stream of 100 GB (ten minutes of a fast upstream on loopback) over 32 bytes a token
    was past the request log's 32-bit columns: a row PostgreSQL could not store."""
    call = _call(status=499, relayed=100 * 2**30)
    assert floor(call, None).output_tokens == MAX_TOKENS
    assert floor(call, Usage(3, 5)).output_tokens == MAX_TOKENS


def test_a_stream_cut_short_settles_at_no_less_than_its_reservation() -> None:
    ticket: Any = _Ticket(tokens=356, cost=0.5)
    early = _call(status=499, relayed=STREAM_BYTES_PER_TOKEN)
    assert used(_done(early, Usage(3, 1), 0.001), ticket) == (356, 0.5)
    late = _call(status=499, relayed=STREAM_BYTES_PER_TOKEN * 1000)
    assert used(_done(late, Usage(3, 1000), 2.0), ticket) == (1003, 2.0)
    whole = _call(status=200, relayed=STREAM_BYTES_PER_TOKEN * 1000)
    assert used(_done(whole, Usage(3, 1), 0.001), ticket) == (4, 0.001)


def test_a_call_without_usage_settles_its_expected_tokens_not_its_reservation() -> None:
    """A token limit reserves the most a call may write (here 5,100 tokens); one the gateway
    cannot count is settled at the expected tokens (input + max_tokens at most
    ``limits.output_estimate``), as a budget settles it at its expected cost."""
    ticket: Any = _Ticket(tokens=356, cost=0.5, reserved=5100)
    gone = _call(status=499, relayed=0)
    assert used(_done(gone, None, None), ticket) == (356, 0.5)
    early = _call(status=499, relayed=STREAM_BYTES_PER_TOKEN)
    assert used(_done(early, Usage(3, 1), 0.001), ticket) == (356, 0.5)


def test_a_call_the_gateway_could_not_price_settles_at_its_estimate_not_zero() -> None:
    """Under ``pricing.unpriced: allow`` (or prices reloaded since the call was admitted) a
    call served by a deployment without a price has no cost: before, it settled at 0."""
    ticket: Any = _Ticket(tokens=356, cost=0.5)
    assert used(_done(_call(status=200, stream=False), Usage(10, 20), None), ticket) == (30, 0.5)
    assert used(_done(_call(status=200, stream=False), Usage(10, 20), 0.0), ticket) == (30, 0.0)


@pytest.mark.parametrize(
    ("fields", "sent"),
    [
        ({"status": 504, "error": "DeadlineExceeded"}, True),  # the request's deadline
        ({"status": 504, "error": "UpstreamTimeout"}, True),
        ({"status": 502, "error": "UpstreamUnavailable"}, True),  # the connection broke
        ({"status": 502, "error": "UpstreamGaveUp"}, True),
        ({"status": 499}, True),  # the client left waiting
        ({"status": 200, "error": "stream:UpstreamTimeout"}, True),  # failed before a byte
        ({"status": 500, "error": "server_error"}, False),  # the upstream answered 500
        ({"status": 504, "error": "DeadlineExceeded", "attempts": 0}, False),  # never sent
        ({"status": 499, "attempts": 0}, False),
        ({"status": 499, "cache": "hit"}, False),
        ({"status": 499, "bytes_in": 40}, False),  # an A2A or MCP call: no tokens
    ],
)
def test_which_calls_were_sent_and_never_answered(fields: dict[str, Any], sent: bool) -> None:
    assert unanswered(_call(**{"attempts": 1, "stream": False, **fields})) is sent


def test_a_call_never_answered_is_charged_its_prompt() -> None:
    """Before: a call whose upstream timed out or dropped the connection settled at nothing,
    though the provider may bill its prompt. Now it counts the body's bytes over four as
    input; a client that left, or a stream that failed before its first byte, still settles
    at no less than its estimate."""
    ticket: Any = _Ticket(tokens=356, cost=0.5, reserved=5100)
    timed_out = _call(status=504, error="DeadlineExceeded", attempts=1, stream=False)
    assert billed(timed_out) == Usage(100, 0)
    assert used(_done(timed_out, billed(timed_out), 0.01, prompt=True), ticket) == (100, 0.01)
    gone = _call(status=499, attempts=1, stream=False)
    assert used(_done(gone, billed(gone), 0.01, prompt=True), ticket) == (356, 0.5)
