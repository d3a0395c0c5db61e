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


class RecordedProvider:
    """A provider that notes each attempt on the call it sends (a list append and two clock
    reads; nothing else on the request path)."""

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
            self._note(call, key, started, getattr(exc, "status", 0), exc)
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
        if isinstance(detail, BaseException):
            if isinstance(detail, asyncio.CancelledError):
                reason = "cancelled"
            elif isinstance(detail, UpstreamTimeout | TimeoutError):
                reason = "timeout"
            elif isinstance(detail, GatewayError) and detail.status >= 500:
                reason = "server_error"
            else:
                reason = type(detail).__name__
        elif status >= 400:
            provider = label.split("/", 1)[0] if label else ""
            classifier = self._classifiers.get(provider)
            body = detail if isinstance(detail, bytes) else b""
            reason = classifier.classify(status, body) if classifier else f"http_{status}"
        return Attempt(label, key_id, started, ended, status, reason)
