"""The plugin contract: what a plugin is, which hooks it may have, what it is given.

A plugin is a class with a ``name``, a pydantic ``Settings`` model (its own schema, checked by
``turnout check`` and at start) and any of four hooks:

- ``before(call, run)``: runs in pipeline order before the call is routed. It may change the
  request (:func:`replace_data`), answer it itself by returning a :class:`Reply`
  (short-circuit: later plugins and routing are skipped) or refuse it by raising a
  :class:`GatewayError` (``GuardrailRefused`` for a guardrail), which the client receives in
  its own protocol's error shape.
- ``after(call, reply, run)``: runs in reverse order on a whole (non-stream) reply, and only
  for plugins whose ``before`` ran (or that have none). It returns the reply to send on.
- ``on_chunk(call, chunk, run)`` / ``on_stream_end(call, run)``: run in reverse order on a
  streamed reply, chunk by chunk as the chunks arrive (nothing is buffered unless the plugin
  holds bytes back itself); ``on_chunk`` returns the bytes to send in place of ``chunk``
  (``b""`` to hold them), ``on_stream_end`` what is still to be sent when the stream ends.

A plugin may instead define ``around(call, next, run)``, the middleware form: it calls
``next(call)`` itself, so it can act before, after and in a ``finally`` (hold a slot for the
whole call, record what happened even when the call fails). An ``around`` plugin is its own
step of the chain, wrapping every entry after it; it has no time budget (it holds the whole
rest of the call) and its exceptions are not caught for it. The gateway's own steps (capture,
auth, limits, cache: :mod:`turnout.plugins.builtin`) are ``around`` plugins.

Hooks a plugin does not override are never called, so a plugin pays only for what it does.
``run`` is the plugin's view of one call: its per-call ``state`` (any object, starts ``None``)
and :meth:`Run.decide` to record a decision for the request log and metrics.

A hook that raises anything but a ``GatewayError``, or outlives its ``timeout``, follows the
plugin's ``on_error`` setting: ``fail_open`` logs it, counts it and goes on as if the hook
had not run; ``fail_closed`` refuses the call with ``PluginUnavailable`` (503).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from turnout.types import Call, Handler, Reply


class Settings(BaseModel):
    """Base of plugin settings: closed (a misspelt setting is refused, not ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoSettings(Settings):
    """For plugins that take no settings."""


# Ask a configured model a question through the gateway's router (the judge guardrails):
# (public model, system prompt, user text, timeout seconds) -> the answer's text.
Ask = Callable[[str, str, str, float], Awaitable[str]]


@dataclass(slots=True)
class Host:
    """What the gateway lends plugins: built once per gateway, shared by every plugin."""

    ask: Ask | None = None  # set once the router exists (turnout.plugins.judge)
    runtime: Any = None  # the compiled configuration (turnout.config.compile.Runtime)
    # The gateway's own steps by built-in plugin name (capture, auth, limits, cache), each
    # ``(call, next) -> Reply`` or None while that service is off; set at every assembly.
    steps: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Run:
    """One plugin's view of one call."""

    plugin: str  # the configured instance name (an entry's ``name``, default its plugin)
    call: Call
    state: Any = None
    decisions: list[tuple[str, str, str]] | None = field(default=None)

    def decide(self, rule: str, action: str) -> None:
        """Record that ``rule`` led to ``action`` (``block``, ``redact``, ``flag``, ...): it
        appears in the request log line and the ``turnout_guardrail_decisions`` metric."""
        call = self.call
        if call.guardrails is None:
            call.guardrails = []
        if len(call.guardrails) < 64:  # bounded: a stream may decide once per chunk
            call.guardrails.append((self.plugin, rule, action))


class Plugin:
    """Base class of every plugin (built-in or out of tree)."""

    name: ClassVar[str] = ""
    Settings: ClassVar[type[BaseModel]] = NoSettings
    # Seconds a hook may take unless the config says otherwise; None: no timer (a hook that
    # never waits on I/O cannot be interrupted by one anyway, and a timer costs microseconds).
    timeout: ClassVar[float | None] = None
    # Hooks this instance does not need with its settings (a guardrail that only checks
    # requests): never called, so its calls pay nothing for them. Set in ``__init__``.
    skip: frozenset[str] = frozenset()

    def __init__(self, settings: Any, host: Host) -> None:
        self.settings = settings
        self.host = host

    async def before(self, call: Call, run: Run) -> Reply | None:
        return None

    async def after(self, call: Call, reply: Reply, run: Run) -> Reply:
        return reply

    async def on_chunk(self, call: Call, chunk: bytes, run: Run) -> bytes:
        return chunk

    async def on_stream_end(self, call: Call, run: Run) -> bytes:
        return b""

    async def around(self, call: Call, next: Handler, run: Run) -> Reply:
        return await next(call)


def replace_data(call: Call, data: dict[str, Any]) -> None:
    """Make ``data`` the request: the parsed form and the bytes forwarded upstream agree. A
    multipart form (a transcription) keeps its bytes, each changed text field rewritten in
    place: re-encoded as JSON it would lose its file and contradict its content type."""
    from turnout.protocols.registry import PROTOCOLS  # the protocols import plugin helpers

    if call.operation in PROTOCOLS[call.protocol].forms:
        from turnout.protocols import form

        body, kind = call.body, call.headers[b"content-type"]
        for name, value in data.items():
            if isinstance(value, str) and value != call.data.get(name) and name[-2:] != "[]":
                body = form.renamed(body, kind, name, value)
        call.data, call.body = data, body
        return
    call.data = data
    call.body = orjson.dumps(data)
    call.ir = None  # built again from the new request if a translated attempt needs it


def json_reply(status: int, body: dict[str, Any]) -> Reply:
    """A whole JSON answer, for a ``before`` hook that answers the call itself."""
    from turnout.types import Reply

    return Reply(status, [(b"content-type", b"application/json")], orjson.dumps(body))
