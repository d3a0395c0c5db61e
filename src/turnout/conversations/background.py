"""The usage of background responses, learnt by polling them until they are done.

A Responses call with ``background: true`` is answered at once (``queued``, no usage) and
generated afterwards at the provider; the client reads it by polling. Its request-log row
would carry no tokens and no cost, so a key without limits (keys with a token limit or a
budget are refused such calls: :class:`~turnout.errors.Unmetered`) could spend without a
trace in usage reports. So the gateway holds that row back: the request log's drain hands
it here (:meth:`BackgroundUsage.take`), the response is fetched from the deployment and key
that created it (:mod:`turnout.conversations.holder`) every few seconds, backing off to
:data:`MOST_DELAY`, and once it has ended (``completed``, ``incomplete``, ``failed``,
``cancelled``) the row is written with its usage, as a foreground call's is. A response that
cannot be read any more (deleted, its provider or key removed) or still running after
:data:`GIVE_UP` seconds is written as it was; so is every held row when the gateway stops.
At most :data:`MOST_WATCHED` responses, holding at most :data:`MOST_BYTES` of request bodies,
are watched at once; past either a row is written without usage, as before.

A key's ``max_parallel`` counts a background response until it has ended, as it counts a
stream until its last byte: the limits step leaves the slot of a watched response taken
(``Ticket.held``; its lease renewed meanwhile) and it is freed here when the row is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import TYPE_CHECKING, Any

import orjson

from turnout.conversations.holder import Holders, forward
from turnout.conversations.store import Record
from turnout.observability.logging import get_logger
from turnout.usage import from_body

if TYPE_CHECKING:
    from turnout.observability.logging import RequestLog
    from turnout.types import Call

log = get_logger("turnout")
FIRST_DELAY = 1.0  # seconds before the first poll
MOST_DELAY = 30.0  # the longest wait between two polls of one response
GIVE_UP = 24 * 3600.0  # seconds after which a response still running is written without usage
MOST_WATCHED = 10_000
# The watched calls' request bodies together (each call is held with its request, for its row
# and its capture): past this a row is written at once, without usage. 10,000 calls of 10 MB
# each would otherwise hold 100 GB for up to a day.
MOST_BYTES = 64 * 1024 * 1024
PARALLEL = 16  # polls in flight at once
_ENDED = frozenset({"completed", "incomplete", "failed", "cancelled"})


class _Watched:
    __slots__ = ("call", "delay", "latency", "response_id", "since")

    def __init__(self, call: Call, latency: float, response_id: str) -> None:
        self.call = call
        self.latency = latency
        self.response_id = response_id
        self.delay = FIRST_DELAY
        self.since = time.monotonic()


class BackgroundUsage:
    def __init__(self, request_log: RequestLog, holders: Holders, limiter: Any = None) -> None:
        self.request_log = request_log
        self.holders = holders
        self.limiter = limiter  # frees the slots (max_parallel) of the responses watched
        # Calls answered as background responses whose rows have not been drained yet:
        # id(call) -> (call, response id). The call itself is kept so its id stays its own.
        self.waiting: dict[int, tuple[Call, str]] = {}
        self._due: list[tuple[float, int, _Watched]] = []  # a heap by next poll time
        self._polling: set[_Watched] = set()
        self._seq = itertools.count()
        self._bytes = 0  # the held calls' request bodies (MOST_BYTES)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    def watch(self, call: Call, response: Any) -> None:
        """A non-streamed answer to a ``background`` call: hold its row back if it names a
        response still to be generated."""
        if self._closed or not self.request_log.recording:
            return
        if not isinstance(response, dict):
            return
        if response.get("status") not in ("queued", "in_progress"):
            return
        rid = response.get("id")
        if not isinstance(rid, str) or call.deployment is None or call.answered_key is None:
            return
        if len(self.waiting) + len(self._due) >= MOST_WATCHED:
            return
        self.waiting[id(call)] = (call, rid)
        ticket = call.ticket
        if ticket is not None and ticket.plan.parallel and self.limiter is not None:
            ticket.held = True  # its slot is freed when the response has ended (_write)

    def take(self, batch: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The drained rows, less those of watched background calls, which are written once
        their responses have ended (called by the drain only while :attr:`waiting`)."""
        kept: list[tuple[Any, ...]] = []
        waiting = self.waiting
        for entry in batch:
            found = waiting.pop(id(entry[0]), None)
            if found is None:
                kept.append(entry)
                continue
            size = _size(found[0])
            if self._bytes + size > MOST_BYTES:  # written now, without usage
                self._free(found[0])
                kept.append(entry)
                continue
            self._bytes += size
            self._schedule(_Watched(found[0], entry[1], found[1]))
        if self._due and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()
        return kept

    def _schedule(self, watched: _Watched) -> None:
        due = time.monotonic() + watched.delay
        heapq.heappush(self._due, (due, next(self._seq), watched))

    async def _run(self) -> None:
        while True:
            if not self._due:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self._due[0][0] - time.monotonic()
            if wait > 0:
                self._wake.clear()
                try:
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                continue
            now = time.monotonic()
            ready: list[_Watched] = []
            while self._due and self._due[0][0] <= now and len(ready) < PARALLEL:
                ready.append(heapq.heappop(self._due)[2])
            self._polling.update(ready)
            await asyncio.gather(*(self._poll(w) for w in ready))

    async def _poll(self, watched: _Watched) -> None:
        call = watched.call
        try:
            ended = await self._fetch(watched)
        except Exception as exc:  # the provider is down or slow: try again later
            log.debug(
                "background response poll failed",
                request_id=call.request_id,
                error=repr(exc)[:200],
            )
            ended = False
        self._polling.discard(watched)
        if not ended and time.monotonic() - watched.since < GIVE_UP:
            watched.delay = min(MOST_DELAY, watched.delay * 1.5)
            self._schedule(watched)
            return
        self._write(watched)

    async def _fetch(self, watched: _Watched) -> bool:
        """Whether the response has ended (its usage, if any, then set on the call) or can no
        longer be read."""
        call = watched.call
        assert call.deployment is not None and call.answered_key is not None
        record = Record(
            watched.response_id, "", 0.0, deployment=call.deployment, key_id=call.answered_key
        )
        try:
            provider, secret = self.holders.find(record)
        except Exception:  # its provider or key is no longer served: nothing to ask
            return True
        path = f"/responses/{watched.response_id}"
        reply = await forward(provider, secret, "GET", path, call.request_id, call.headers)
        if reply.status == 404:
            return True
        if reply.status != 200:
            return False
        try:
            response = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(response, dict) or response.get("status") not in _ENDED:
            return False
        call.usage = from_body("responses", reply.body)
        return True

    def _write(self, watched: _Watched) -> None:
        self._bytes -= _size(watched.call)
        self._free(watched.call)
        request_log = self.request_log
        request_log.inflight += 1  # record() counts it out again
        request_log.record(watched.call, watched.latency)

    def _free(self, call: Call) -> None:
        ticket = call.ticket
        if ticket is not None and ticket.held and self.limiter is not None:
            self.limiter.finish(ticket)

    async def stop(self) -> None:
        """Write every held row as it is (the request log is flushed after this)."""
        self._closed = True
        for call, _ in self.waiting.values():
            self._free(call)
        self.waiting.clear()  # rows not drained yet are written as they come
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        held = [w for _, _, w in self._due] + list(self._polling)
        self._due, self._polling = [], set()
        for watched in held:
            self._write(watched)


def _size(call: Any) -> int:
    """What a held call's request weighs: its body as sent upstream, and as the client sent
    it when captures keep that too."""
    return len(call.body) + len(call.client_body or b"")
