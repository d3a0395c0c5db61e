"""Every upstream attempt of a call, noted as it happens and explained afterwards.

The router keeps no per-call history of its attempts; the request log wants each one with its
reason, and traces want a span per attempt. Wrapping the providers the router sends through is
the one place that sees every attempt without touching routing: the wrapper notes the
deployment, the key's public id, the timings and the outcome in a list on the call, and the
background drain later classifies failures with the provider's own error rules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from turnout.config.compile import DeploymentSpec, ProviderSpec
from turnout.errors import GatewayError, UpstreamTimeout
from turnout.health.targets import fingerprint
from turnout.providers.base import Provider
from turnout.routing.classify import Classifier
from turnout.types import Call, Note, Reply


class Raised:
    """How an attempt that raised is noted: the reason only, never the exception. Kept on the
    call, the exception's traceback held every frame of the attempt (the call itself, its
    body, the connection) in a reference cycle through ``call.notes``, which only a full
    collection frees: a burst of cancelled or failed calls piled up that much garbage between
    two, and the heap kept the high-water mark (docs/measurements.md#memory)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Raised({self.reason!r})"


def raised(exc: BaseException) -> Raised:
    """The reason an attempt failed with ``exc``, as the router's classes name it."""
    if isinstance(exc, asyncio.CancelledError):
        return Raised("cancelled")
    if isinstance(exc, UpstreamTimeout | TimeoutError):
        return Raised("timeout")
    if isinstance(exc, GatewayError) and exc.status >= 500:
        return Raised("server_error")
    return Raised(type(exc).__name__)


class RecordedProvider:
    """A provider that notes each attempt on the call it sends (a list append and two clock
    reads; nothing else on the request path, and a few type checks when it raised)."""

    __slots__ = ("_ids", "inner", "spec")

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.spec: ProviderSpec = inner.spec
        self._ids = {s: fingerprint(s) if s else "" for s in inner.spec.api_keys}

    async def send(self, call: Call, deployment: DeploymentSpec, key: str) -> Reply:
        started = time.perf_counter()
        try:
            reply = await self.inner.send(call, deployment, key)
        except BaseException as exc:
            self._note(call, key, started, getattr(exc, "status", 0), raised(exc))
            raise
        status = reply.status
        self._note(call, key, started, status, reply.body if status >= 400 else None)
        return reply

    def _note(self, call: Call, key: str, started: float, status: int, detail: Any) -> None:
        ended = time.perf_counter()
        note = (call.deployment, self._ids.get(key, ""), started, ended, status, detail)
        notes = call.notes
        if notes is None:
            call.notes = [note]
        else:
            notes.append(note)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def recorded(providers: Mapping[str, Provider]) -> dict[str, Provider]:
    return {name: RecordedProvider(p) for name, p in providers.items()}


@dataclass(slots=True)
class Attempt:
    deployment: str | None
    key_id: str
    started: float  # perf_counter
    ended: float
    status: int
    reason: str | None  # None: it succeeded


class Explainer:
    """Turns notes into :class:`Attempt` records, classifying failures the way the router does."""

    def __init__(self, providers: Mapping[str, ProviderSpec]) -> None:
        self._classifiers = {name: Classifier.for_provider(s) for name, s in providers.items()}

    def attempts(self, call: Call) -> list[Attempt]:
        return self.explain(call.notes or [])

    def explain(self, notes: list[Note]) -> list[Attempt]:
        return [self._attempt(n) for n in notes]

    def _attempt(self, note: Note) -> Attempt:
        label, key_id, started, ended, status, detail = note
        reason: str | None = None
        if isinstance(detail, Raised):
            reason = detail.reason
        elif status >= 400:
            provider = label.split("/", 1)[0] if label else ""
            classifier = self._classifiers.get(provider)
            body = detail if isinstance(detail, bytes) else b""
            reason = classifier.classify(status, body) if classifier else f"http_{status}"
        return Attempt(label, key_id, started, ended, status, reason)
