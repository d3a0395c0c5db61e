"""The cache step in front of a fake router that answers like the mock provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest

from tests.unit.cache.helpers import DEPLOY, PROMPTS, make_call, mock_answer, runtime
from turnout.app import create_app
from turnout.cache.entry import Entry
from turnout.cache.keys import CacheKey
from turnout.cache.memory import MemoryStore
from turnout.cache.service import CacheService
from turnout.cache.store import StoreUnavailable, StoreUsage
from turnout.errors import UpstreamUnavailable
from turnout.routing.router import Router
from turnout.types import Call, Reply

PROTOCOLS = ["openai", "anthropic", "gemini"]


class Upstream:
    """The handler behind the step: answers every call from the mock engine, counting them."""

    def __init__(self) -> None:
        self.calls = 0
        self.status = 200
        self.cut: int | None = None  # stream: stop after this many frames
        self.fail_after: int | None = None  # stream: raise after this many frames
        self.fallback: str | None = None
        self.mock_headers: dict[str, str] = {}

    async def __call__(self, call: Call) -> Reply:
        self.calls += 1
        call.deployment = "p/up"
        if self.fallback:
            call.fallback = self.fallback
        if self.status != 200:
            return Reply(self.status, [], body=b'{"error": {"message": "no"}}')
        body, frames = mock_answer(call, **self.mock_headers)
        if frames is None:
            assert body is not None
            return Reply(200, [(b"content-type", b"application/json")], body=body)
        return Reply(200, [], chunks=self._chunks(frames))

    async def _chunks(self, frames: list[bytes]) -> AsyncIterator[bytes]:
        for i, frame in enumerate(frames):
            if i == self.cut:
                return
            if i == self.fail_after:
                raise UpstreamUnavailable("upstream broke")
            yield frame


async def drain(reply: Reply) -> bytes:
    """What the endpoint does with a reply: send every chunk, then close the iterator."""
    if reply.chunks is None:
        return reply.body
    out = [chunk async for chunk in reply.chunks]
    await reply.chunks.aclose()  # type: ignore[attr-defined]
    return b"".join(out)


def header(reply: Reply, name: bytes) -> bytes | None:
    return next((v for k, v in reply.headers if k == name), None)


def service(store: Any = None, **cache: Any) -> CacheService:
    svc = CacheService.create(runtime(**cache), store or MemoryStore(10**8, 10**6))
    assert svc is not None
    return svc


async def ask(svc: CacheService, up: Upstream, call: Call) -> tuple[Reply, bytes]:
    reply = await svc.step(call, up)
    body = await drain(reply)
    await svc.flush()
    return reply, body


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("first", "second"), [(False, False), (True, True), (False, True), (True, False)]
)
async def test_miss_then_hit_in_either_form(protocol: str, first: bool, second: bool) -> None:
    svc, up = service(), Upstream()
    miss, _ = await ask(svc, up, make_call(protocol, PROMPTS[protocol], stream=first))
    assert header(miss, b"x-turnout-cache") == b"miss"
    call = make_call(protocol, PROMPTS[protocol], stream=second)
    hit, body = await ask(svc, up, call)
    assert up.calls == 1, "a hit never reaches the router"
    assert header(hit, b"x-turnout-cache") == b"hit"
    assert header(hit, b"x-turnout-cache-key") == header(miss, b"x-turnout-cache-key")
    assert call.cache == "hit" and call.deployment is None
    # Usage is known unless the answer was an OpenAI stream recorded without a usage chunk.
    assert (call.usage is None) == (protocol == "openai" and first)
    assert (hit.chunks is not None) == second
    assert body
    ctype = header(hit, b"content-type")
    assert ctype == (b"text/event-stream" if second else b"application/json")


async def test_same_form_replay_is_byte_identical_and_split_like_the_original() -> None:
    svc, up = service(), Upstream()
    first = await svc.step(make_call("anthropic", PROMPTS["anthropic"], stream=True), up)
    assert first.chunks is not None
    original = [c async for c in first.chunks]
    await svc.flush()
    hit = await svc.step(make_call("anthropic", PROMPTS["anthropic"], stream=True), up)
    assert hit.chunks is not None
    assert [c async for c in hit.chunks] == original


async def test_skip_neither_reads_nor_stores() -> None:
    svc, up = service(), Upstream()
    skip = {b"x-turnout-cache": b"skip"}
    reply, _ = await ask(svc, up, make_call("openai", PROMPTS["openai"], headers=skip))
    assert header(reply, b"x-turnout-cache") == b"bypass"
    reply, _ = await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    assert header(reply, b"x-turnout-cache") == b"miss"
    reply, _ = await ask(svc, up, make_call("openai", PROMPTS["openai"], headers=skip))
    assert header(reply, b"x-turnout-cache") == b"bypass" and up.calls == 3
    assert svc.counters.bypasses == 2


async def test_refresh_replaces_the_stored_answer() -> None:
    svc, up = service(), Upstream()
    _, old = await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    refresh = make_call("openai", PROMPTS["openai"], headers={b"cache-control": b"no-cache"})
    reply, new = await ask(svc, up, refresh)
    assert up.calls == 2 and refresh.cache == "refresh" and new != old
    assert header(reply, b"x-turnout-cache") == b"miss"
    _, served = await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    assert served == new and up.calls == 2


async def test_errors_are_never_stored() -> None:
    svc, up = service(), Upstream()
    up.status = 500
    await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    up.status = 200
    reply, _ = await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    assert header(reply, b"x-turnout-cache") == b"miss" and up.calls == 2


async def test_an_error_body_with_status_200_is_not_stored() -> None:
    class ErrorIn200(Upstream):
        async def __call__(self, call: Call) -> Reply:
            self.calls += 1
            return Reply(200, [], body=b'{"error": {"message": "quota"}}')

    svc, up = service(), ErrorIn200()
    await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    assert up.calls == 2 and svc.counters.not_stored["error"] == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_truncated_streams_are_never_stored(protocol: str) -> None:
    svc, up = service(), Upstream()
    up.cut = 2
    await ask(svc, up, make_call(protocol, PROMPTS[protocol], stream=True))
    up.cut = None
    reply, _ = await ask(svc, up, make_call(protocol, PROMPTS[protocol], stream=True))
    assert header(reply, b"x-turnout-cache") == b"miss" and up.calls == 2
    assert svc.counters.not_stored["truncated"] == 1


async def test_failed_and_abandoned_streams_are_never_stored() -> None:
    svc, up = service(), Upstream()
    up.fail_after = 2
    reply = await svc.step(make_call("openai", PROMPTS["openai"], stream=True), up)
    assert reply.chunks is not None
    with pytest.raises(UpstreamUnavailable):
        await drain(reply)
    up.fail_after = None
    reply = await svc.step(make_call("openai", PROMPTS["openai"], stream=True), up)
    assert reply.chunks is not None
    await anext(reply.chunks)  # the client reads one chunk and disconnects
    await reply.chunks.aclose()  # type: ignore[attr-defined]
    await svc.flush()
    reply, _ = await ask(svc, up, make_call("openai", PROMPTS["openai"], stream=True))
    assert header(reply, b"x-turnout-cache") == b"miss" and up.calls == 3


async def test_a_fallback_models_answer_is_not_stored_under_the_primary() -> None:
    svc, up = service(), Upstream()
    up.fallback = "other-model"
    await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    up.fallback = None
    reply, _ = await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    assert header(reply, b"x-turnout-cache") == b"miss" and up.calls == 2


async def test_no_hits_across_team_namespaces() -> None:
    svc, up = service(namespace="team"), Upstream()

    def call(team: str | None) -> Call:
        c = make_call("openai", PROMPTS["openai"])
        if team:
            c.team = team
        return c

    await ask(svc, up, call("red"))
    for team in ("blue", None):
        reply, _ = await ask(svc, up, call(team))
        assert header(reply, b"x-turnout-cache") == b"miss"
    reply, _ = await ask(svc, up, call("red"))
    assert header(reply, b"x-turnout-cache") == b"hit" and up.calls == 3


async def test_store_outage_serves_uncached() -> None:
    class Down(MemoryStore):
        async def get(self, key: CacheKey) -> Entry | None:
            raise StoreUnavailable("down")

        async def put_many(self, items: list[tuple[CacheKey, Entry, float]]) -> None:
            raise StoreUnavailable("down")

        async def usage(self) -> StoreUsage:
            return StoreUsage(0, 0, available=False)

    svc, up = service(store=Down(10**6, 10**6)), Upstream()
    for _ in range(2):
        reply, body = await ask(svc, up, make_call("openai", PROMPTS["openai"]))
        assert reply.status == 200 and body and header(reply, b"x-turnout-cache") == b"bypass"
    assert svc.counters.unavailable == 2 and svc.counters.not_stored["unavailable"] == 2
    assert (await svc.stats())["available"] is False


async def test_unservable_entry_is_a_miss() -> None:
    store = MemoryStore(10**6, 10**6)
    svc, up = service(store=store), Upstream()
    call = make_call("openai", PROMPTS["openai"], stream=True)
    _, _ = await ask(svc, up, call)
    digest = header(
        await svc.step(make_call("openai", PROMPTS["openai"]), up), b"x-turnout-cache-key"
    )
    assert digest is not None
    key = CacheKey("m", digest.decode(), True)
    store.put(key, Entry("openai", "m", True, frames=(b"data: {broken\n\n",)), 1e9)
    reply, body = await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    assert header(reply, b"x-turnout-cache") == b"miss" and body
    assert svc.counters.unconvertible == 1


async def test_storing_happens_after_the_reply_leaves_the_step() -> None:
    store = MemoryStore(10**6, 10**6)
    svc, up = service(store=store), Upstream()
    reply = await svc.step(make_call("openai", PROMPTS["openai"]), up)
    assert reply.status == 200 and store.bytes == 0  # queued, not stored yet
    await svc.flush()
    assert store.bytes > 0


async def test_answers_over_the_item_bound_are_not_stored() -> None:
    svc, up = service(max_item_bytes=200), Upstream()
    await ask(svc, up, make_call("openai", PROMPTS["openai"], stream=True))
    await ask(svc, up, make_call("openai", PROMPTS["openai"]))
    assert up.calls == 2 and svc.counters.not_stored["too_large"] == 2


async def test_uncached_models_and_operations_pass_through_untouched() -> None:
    rt = runtime({"m": {"deployments": DEPLOY, "cache": True}, "plain": {"deployments": DEPLOY}})
    svc = CacheService.create(rt, MemoryStore(10**6, 10**6))
    assert svc is not None
    up = Upstream()
    reply, _ = await ask(
        svc, up, make_call("openai", {**PROMPTS["openai"], "model": "plain"}, model="plain")
    )
    assert header(reply, b"x-turnout-cache") is None

    class Counter(Upstream):
        async def __call__(self, call: Call) -> Reply:
            self.calls += 1
            return Reply(200, [], body=b'{"input_tokens": 3}')

    counter = Counter()
    for _ in range(2):
        count = make_call("anthropic", PROMPTS["anthropic"], operation="count_tokens")
        reply, _ = await ask(svc, counter, count)
        assert header(reply, b"x-turnout-cache") is None and count.cache is None
    assert counter.calls == 2


async def test_the_step_is_only_in_the_pipeline_when_a_model_is_cached() -> None:
    for cached in (False, True):
        rt = runtime({"m": {"deployments": DEPLOY, "cache": cached}})
        app = create_app(rt)
        await app.startup()
        try:
            steps = []
            handler = app.state.handler
            while isinstance(handler, partial):  # each step is partial(step, next=...)
                steps.append(handler.func)
                handler = handler.keywords["next"]
            assert isinstance(handler, Router)  # the chain ends at the router
            if cached:
                assert app.state.cache is not None
                assert app.state.cache.step in steps
            else:
                assert app.state.cache is None
                owners = [getattr(step, "__self__", None) for step in steps]
                assert not any(isinstance(owner, CacheService) for owner in owners)
        finally:
            await app.shutdown()


@pytest.mark.parametrize(
    ("protocol", "marker"), [("openai", b"[DONE]"), ("anthropic", b"message_stop")]
)
async def test_streams_without_their_terminator_are_not_stored(
    protocol: str, marker: bytes
) -> None:
    """A finish reason is not enough: the API layer reports a stream without its terminator
    as cut, so the cache must not replay it as whole."""

    class NoTerminator(Upstream):
        async def _chunks(self, frames: list[bytes]) -> AsyncIterator[bytes]:
            for frame in frames:
                if marker not in frame:
                    yield frame

    svc, up = service(), NoTerminator()
    await ask(svc, up, make_call(protocol, PROMPTS[protocol], stream=True))
    assert svc.counters.not_stored["truncated"] == 1 and svc.counters.stored == 0
