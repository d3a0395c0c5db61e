"""The plugin pipeline step: runs the configured plugins' hooks around the rest of the chain.

It sits after authentication and limits (plugins see the caller's team and key) and before
the cache (a request a guardrail rewrote is cached as rewritten, and an answer served from the
cache still passes the plugins' ``after`` hooks). With no ``plugins:`` configured the step is
not in the chain at all; with plugins that select nothing for a call it costs one memoised
lookup.

Order (docs/plugins.md): ``before`` hooks in configuration order; a hook that answers stops
the walk, and only the plugins that were reached see the reply; ``after`` and the stream hooks
in reverse order. Each hook runs under the plugin's timeout, if it has one, and its failures
follow its ``on_error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from turnout.errors import GatewayError, GuardrailRefused, PluginUnavailable
from turnout.observability.logging import get_logger
from turnout.plugins.base import Run
from turnout.plugins.config import Bound, PluginSet
from turnout.routing.stream import aclose
from turnout.types import Call, Handler, Reply

log = get_logger("turnout.plugins")
T = TypeVar("T")


class PluginStep:
    """``(call, next) -> Reply`` over a :class:`PluginSet` that a reload may replace."""

    def __init__(self, plugins: PluginSet) -> None:
        self.plugins = plugins

    async def __call__(self, call: Call, next: Handler) -> Reply:
        plugins = self.plugins
        chain = plugins.static  # no per-call choice: most pipelines
        if chain is None:
            chain = plugins.chain(call.model, call.team, call.key_id)
        if not chain:
            return await next(call)
        ran: list[tuple[Bound, Run]] = []
        answer: Reply | None = None
        for b in chain:
            run = Run(b.name, call)
            ran.append((b, run))
            if b.before is not None:
                answer = await _guard(b, run, b.before(call, run), None)
                if answer is not None:  # answered by the plugin: routing is skipped
                    break
        reply = answer if answer is not None else await next(call)
        if reply.chunks is None:
            for b, run in reversed(ran):
                if b.after is not None:
                    reply = await _guard(b, run, b.after(call, reply, run), reply)
            return reply
        streamers = [
            (b, run)
            for b, run in reversed(ran)
            if b.on_chunk is not None or b.on_stream_end is not None
        ]
        if streamers:
            reply.chunks = _stream(call, reply.chunks, streamers)
        return reply


async def _guard(b: Bound, run: Run, hook: Awaitable[T], fallback: T) -> T:
    """Run one hook under the plugin's timeout; map its failures by ``on_error``."""
    try:
        if b.timeout is None:
            return await hook
        async with asyncio.timeout(b.timeout):
            return await hook
    except GuardrailRefused as exc:
        run.decide(exc.rule, "block")
        raise
    except GatewayError:
        raise
    except Exception as exc:  # TimeoutError included: the budget ran out
        _failed(b, run, exc)
        if b.fail_open:
            return fallback
        raise PluginUnavailable(
            f"The '{b.name}' plugin could not check this request; retry shortly."
        ) from None


def _failed(b: Bound, run: Run, exc: Exception) -> None:
    kind = "timeout" if isinstance(exc, TimeoutError) else "error"
    action = "fail_open" if b.fail_open else "fail_closed"
    run.decide(kind, action)
    log.warning(
        "plugin failed",
        plugin=b.name,
        failure=kind,
        action=action,
        request_id=run.call.request_id,
        error=repr(exc)[:300],
    )


async def _stream(
    call: Call, chunks: AsyncIterator[bytes], hooks: list[tuple[Bound, Run]]
) -> AsyncIterator[bytes]:
    """Each chunk through the stream hooks (innermost plugin first). A fail_open plugin that
    fails mid-stream is left out for the rest of the stream: its held state is unknown."""
    live = list(hooks)
    try:
        async for chunk in chunks:
            for b, run in list(live):
                if chunk and b.on_chunk is not None:
                    chunk = await _chunk_guard(b, run, live, b.on_chunk(call, chunk, run), chunk)
            if chunk:
                yield chunk
        pending = b""
        for b, run in list(live):
            if pending and b.on_chunk is not None:
                pending = await _chunk_guard(b, run, live, b.on_chunk(call, pending, run), pending)
            if b.on_stream_end is not None:
                pending += await _chunk_guard(b, run, live, b.on_stream_end(call, run), b"")
        if pending:
            yield pending
    finally:
        await aclose(chunks)


async def _chunk_guard(
    b: Bound, run: Run, live: list[tuple[Bound, Run]], hook: Awaitable[bytes], fallback: bytes
) -> bytes:
    try:
        if b.timeout is None:
            return await hook
        async with asyncio.timeout(b.timeout):
            return await hook
    except GuardrailRefused as exc:
        run.decide(exc.rule, "block")
        raise
    except GatewayError:
        raise
    except Exception as exc:
        _failed(b, run, exc)
        if b.fail_open:
            live[:] = [(x, r) for x, r in live if x is not b]
            return fallback
        raise PluginUnavailable(
            f"The '{b.name}' plugin failed while checking the answer."
        ) from None
