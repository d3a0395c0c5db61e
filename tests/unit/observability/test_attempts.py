"""Attempts noted by the provider wrapper and explained with the provider's error rules."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

import pytest

from tests.unit.observability.helpers import call, runtime
from turnout.errors import UpstreamTimeout, UpstreamUnavailable
from turnout.observability.attempts import Explainer, RecordedProvider
from turnout.types import Call, Reply

pytestmark = pytest.mark.asyncio(loop_scope="function")


class _Provider:
    def __init__(self, spec: object, outcomes: list[object]) -> None:
        self.spec = spec
        self.outcomes = outcomes
        self.closed = False

    async def send(self, c: Call, deployment: object, key: str) -> Reply:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, Reply)
        return outcome

    async def close(self) -> None:
        self.closed = True


async def test_every_attempt_is_noted_and_explained() -> None:
    rt = runtime()
    spec = rt.providers["p1"]
    inner = _Provider(
        spec,
        [
            UpstreamTimeout("slow"),
            Reply(429, [], body=b'{"error":{"message":"rate"}}'),
            UpstreamUnavailable("reset"),
            asyncio.CancelledError(),
            Reply(200, [], body=b"{}"),
        ],
    )
    provider = RecordedProvider(inner)  # type: ignore[arg-type]
    c = call()
    deployment = rt.models["gpt-x"].deployments[0]
    for _ in range(4):
        with pytest.raises((UpstreamTimeout, UpstreamUnavailable, asyncio.CancelledError)):
            reply = await provider.send(c, deployment, "sk-one-secret-0001")
            assert reply.status == 429
            raise UpstreamUnavailable("429 seen")
    await provider.send(c, deployment, "sk-one-secret-0001")
    attempts = Explainer(rt.providers).attempts(c)
    assert [a.reason for a in attempts] == [
        "timeout",
        "rate_limited",
        "server_error",
        "cancelled",
        None,
    ]
    assert all(a.key_id and "secret" not in a.key_id for a in attempts)
    assert all(a.ended >= a.started for a in attempts)
    assert provider.spec is spec
    await provider.close()
    assert inner.closed


class _Held:
    """Stands for what an attempt's frames hold (the call's body, the connection)."""


async def test_a_failed_attempt_is_noted_without_its_frames() -> None:
    """The note keeps how the attempt failed, not the exception: its traceback's frames made
    a cycle with ``call.notes`` that only a full collection freed, keeping everything the
    attempt's frames held (docs/measurements.md#memory). Freed by reference counting now."""
    held: list[weakref.ref[_Held]] = []

    class _Failing:
        spec = runtime().providers["p1"]

        async def send(self, c: Call, deployment: object, key: str) -> Reply:
            body = _Held()
            held.append(weakref.ref(body))
            raise asyncio.CancelledError

    provider = RecordedProvider(_Failing())  # type: ignore[arg-type]
    c = call()
    deployment = runtime().models["gpt-x"].deployments[0]
    gc.disable()
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await provider.send(c, deployment, "sk-one-secret-0001")
        assert held[0]() is None
    finally:
        gc.enable()
    assert [a.reason for a in Explainer(runtime().providers).attempts(c)] == ["cancelled"]
