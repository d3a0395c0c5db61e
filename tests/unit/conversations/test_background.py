"""The rows of background responses wait for their usage (turnout/conversations/background.py):
polled until the response has ended, written as they were when it cannot be read or when the
gateway stops. The deployment is a stand-in answering from a list; the delays are shortened."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from tests.support.wait import until_async
from turnout.conversations import background
from turnout.conversations.background import BackgroundUsage
from turnout.types import Call, Reply, Usage


class _Log:
    recording = True

    def __init__(self) -> None:
        self.inflight = 0
        self.rows: list[tuple[Call, float]] = []

    def record(self, call: Call, latency: float) -> None:
        self.inflight -= 1
        self.rows.append((call, latency))


class _Holders:
    def find(self, record: Any) -> tuple[Any, str]:
        return object(), "sk-up"


def _call() -> Call:
    call = Call("responses", "responses", "bg", b"{}", {}, False, {}, "r1", time.perf_counter())
    call.deployment, call.answered_key = "oa/bg", "fp"
    return call


def _response(status: str, usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "status": status, "usage": usage}


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[Reply]:
    """What the deployment answers to each poll, in order (the last one again and again)."""
    replies: list[Reply] = []

    async def forward(*args: Any) -> Reply:
        return replies.pop(0) if len(replies) > 1 else replies[0]

    monkeypatch.setattr(background, "forward", forward)
    monkeypatch.setattr(background, "FIRST_DELAY", 0.01)
    monkeypatch.setattr(background, "MOST_DELAY", 0.02)
    return replies


def _reply(body: dict[str, Any], status: int = 200) -> Reply:
    return Reply(status, [], orjson.dumps(body))


async def test_a_row_waits_until_its_response_has_ended(answers: list[Reply]) -> None:
    done = _response("completed", {"input_tokens": 7, "output_tokens": 900, "total_tokens": 907})
    answers += [_reply(_response("in_progress")), _reply(_response("in_progress")), _reply(done)]
    log = _Log()
    watcher = BackgroundUsage(log, _Holders())  # type: ignore[arg-type]
    call = _call()
    watcher.watch(call, _response("queued"))
    other = _call()
    assert watcher.take([(call, 0.5), (other, 0.1)]) == [(other, 0.1)]  # held back
    await until_async(lambda: log.rows)
    assert log.rows == [(call, 0.5)] and log.inflight == 0
    assert call.usage == Usage(7, 900)
    assert not answers[1:]  # it was asked until it ended


async def test_rows_are_written_without_usage_when_it_cannot_be_read_or_the_gateway_stops(
    answers: list[Reply],
) -> None:
    answers.append(_reply({"error": {"message": "gone"}}, status=404))
    log = _Log()
    watcher = BackgroundUsage(log, _Holders())  # type: ignore[arg-type]
    deleted = _call()
    watcher.watch(deleted, _response("queued"))
    watcher.take([(deleted, 0.5)])
    await until_async(lambda: log.rows)
    assert deleted.usage is None
    answers[0] = _reply(_response("in_progress"))
    running = _call()
    watcher.watch(running, _response("in_progress"))
    watcher.take([(running, 0.2)])
    await watcher.stop()
    assert log.rows[-1] == (running, 0.2) and running.usage is None
    late = _call()
    watcher.watch(late, _response("queued"))  # after the stop: written at once, as before
    assert not watcher.waiting
    watcher.watch(_call(), {"id": "resp_2", "status": "completed"})  # not a background one
    assert not watcher.waiting


class _Limiter:
    def __init__(self) -> None:
        self.finished: list[Any] = []

    def finish(self, ticket: Any) -> None:
        self.finished.append(ticket)


async def test_a_watched_response_holds_its_slot_until_its_row_is_written(
    answers: list[Reply],
) -> None:
    from turnout.limits.plan import Plan, Rule, Ticket

    answers.append(_reply(_response("in_progress")))
    limiter, log = _Limiter(), _Log()
    watcher = BackgroundUsage(log, _Holders(), limiter)  # type: ignore[arg-type]
    call, waiting = _call(), _call()
    for c in (call, waiting):
        c.ticket = Ticket(Plan((Rule("k:a", "key a", parallel=1),)))
        watcher.watch(c, _response("queued"))
    assert call.ticket is not None and call.ticket.held  # the limits step leaves it taken
    watcher.take([(call, 0.1)])
    assert limiter.finished == []  # still running
    await watcher.stop()  # written without usage: both slots freed
    assert {id(t) for t in limiter.finished} == {id(call.ticket), id(waiting.ticket)}


async def test_the_held_requests_are_bounded_in_bytes(
    answers: list[Reply], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each watched call is held with its request; past MOST_BYTES of them a row is written at
    once (without usage) instead of holding another large request for up to a day."""
    monkeypatch.setattr(background, "MOST_BYTES", 1000)
    answers.append(_reply(_response("in_progress")))
    log = _Log()
    usage = BackgroundUsage(log, _Holders())  # type: ignore[arg-type]
    small, big = _call(), _call()
    big.body = b"x" * 2000
    for call in (small, big):
        usage.watch(call, _response("queued"))
    kept = usage.take([(small, 0.1), (big, 0.2)])
    assert [c for c, _ in kept] == [big]  # written now, with what it had
    assert len(usage._due) == 1  # the small one is watched
    await usage.stop()
    assert usage._bytes == 0
