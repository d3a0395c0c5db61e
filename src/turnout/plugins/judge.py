"""Asking a configured model a question through the gateway (the judge guardrails).

A judge's request is an OpenAI-shaped chat call handed to the router itself, so any public
model of the configuration can judge, whatever its provider's protocol, with the router's
failover, health and deadlines; it does not pass the plugin pipeline again. It runs in its own
task: the router tracks deadlines per task, and a judge must not borrow the client's.
Answers are cached (bounded, with a time to live) by the question, because the same prompt is
often judged again (retries, agent loops resending a conversation); the bound is shared fairly
between the gateway keys that asked (:class:`Verdicts`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from typing import Any

import orjson

from turnout.fairshare import Shares
from turnout.plugins.base import Ask
from turnout.types import Call, Handler


class JudgeFailed(Exception):
    """The judge model did not give a usable answer (a plugin failure: ``on_error`` applies)."""


def asker(router: Handler) -> Ask:
    async def ask(model: str, system: str, user: str, seconds: float) -> str:
        data: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": 0,
            "max_tokens": 256,
        }
        call = Call(
            protocol="openai",
            operation="chat",
            model=model,
            body=orjson.dumps(data),
            data=data,
            stream=False,
            headers={},
            request_id="judge-" + uuid.uuid4().hex[:16],
            started=time.perf_counter(),
            path="/v1/chat/completions",
        )
        task = asyncio.ensure_future(router(call))
        try:
            reply = await asyncio.wait_for(task, seconds)
        except TimeoutError:
            raise
        except Exception as exc:
            raise JudgeFailed(f"judge model '{model}': {type(exc).__name__}") from None
        if reply.status >= 300 or reply.chunks is not None:
            raise JudgeFailed(f"judge model '{model}' answered with status {reply.status}")
        try:
            content = orjson.loads(reply.body)["choices"][0]["message"]["content"]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            raise JudgeFailed(f"judge model '{model}' gave no answer text") from None
        if not isinstance(content, str):
            raise JudgeFailed(f"judge model '{model}' gave no answer text")
        return content

    return ask


class Verdicts:
    """A bounded cache of judge answers by question, each kept ``ttl`` seconds.

    Each verdict counts against the gateway key whose request asked for it, and past ``size``
    the key holding the most loses its least recently used (:mod:`turnout.fairshare`): one key
    sending distinct prompts in a loop pushes out only its own verdicts, never the ones other
    keys' conversations hit again (each miss is another judge call, time on their request)."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        self._items: dict[bytes, tuple[float, Any, str]] = {}  # key -> (expires, value, owner)
        self._held: Shares[bytes] = Shares()

    @staticmethod
    def key(*parts: str) -> bytes:
        h = hashlib.sha256()
        for part in parts:
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        return h.digest()

    def get(self, key: bytes) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] < time.monotonic():
            self._drop(key)
            return None
        self._held.touch(key, item[2])
        return item[1]

    def put(self, key: bytes, value: Any, owner: str = "-") -> None:
        """Keep ``value`` under ``key``, counted against ``owner`` (the caller's key id)."""
        if self.size <= 0:
            return
        self._drop(key)
        self._items[key] = (time.monotonic() + self.ttl, value, owner)
        self._held.add(key, owner)
        while len(self._items) > self.size:
            self._drop(self._held.victim()[0])

    def held(self, owner: str) -> int:
        """How many verdicts count against ``owner``."""
        return self._held.held(owner)

    def _drop(self, key: bytes) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._held.remove(key, item[2])
