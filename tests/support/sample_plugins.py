"""Plugins for the plugin-pipeline tests, named in configs as ``tests.support.sample_plugins:X``
(the gateway process gets the repository on its PYTHONPATH)."""

from __future__ import annotations

import asyncio

from pydantic import Field

from turnout.errors import GuardrailRefused
from turnout.plugins import Plugin, Run, Settings, json_reply
from turnout.types import Call, Handler, Reply

TRACE = b"x-plugin-trace"


class TagSettings(Settings):
    tag: str
    answer: bool = Field(False, description="answer the call itself (short-circuit)")
    refuse: bool = False


class Tagger(Plugin):
    """Writes where it ran into the response's ``x-plugin-trace`` header: the order test."""

    name = "tagger"
    Settings = TagSettings

    async def before(self, call: Call, run: Run) -> Reply | None:
        trace = call.headers.get(TRACE, b"")
        call.headers[TRACE] = trace + b"before:" + self.settings.tag.encode() + b","
        if self.settings.refuse:
            raise GuardrailRefused(f"refused by {self.settings.tag}", plugin=run.plugin, rule="tag")
        if self.settings.answer:
            reply = json_reply(
                200,
                {
                    "id": "chatcmpl-plugin",
                    "object": "chat.completion",
                    "created": 0,
                    "model": call.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "from the plugin"},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )
            return reply
        return None

    async def after(self, call: Call, reply: Reply, run: Run) -> Reply:
        trace = call.headers.get(TRACE, b"") + b"after:" + self.settings.tag.encode() + b","
        call.headers[TRACE] = trace
        reply.headers = [(k, v) for k, v in reply.headers if k != TRACE]
        reply.headers.append((TRACE, trace.rstrip(b",")))
        return reply


class SleepSettings(Settings):
    seconds: float = 5.0


class Sleeper(Plugin):
    """A hook that outlives any small time budget."""

    name = "sleeper"
    Settings = SleepSettings
    timeout = 0.2

    async def before(self, call: Call, run: Run) -> Reply | None:
        await asyncio.sleep(self.settings.seconds)
        return None


class Crasher(Plugin):
    name = "crasher"

    async def before(self, call: Call, run: Run) -> Reply | None:
        raise RuntimeError("boom")


class Timer(Plugin):
    """An ``around`` plugin: stamps how many chain steps ran after it (the middleware form)."""

    name = "timer"

    async def around(self, call: Call, next: Handler, run: Run) -> Reply:
        run.state = "started"
        try:
            reply = await next(call)
        finally:
            run.decide("timer", "ran")
        reply.headers.append((b"x-timer", b"around"))
        return reply
