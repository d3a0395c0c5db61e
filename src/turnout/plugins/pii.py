"""``pii``: find personal data and secrets in requests (and optionally answers); redact them,
refuse the call, or let them pass, per kind.

Kinds (:mod:`turnout.plugins.entities`): ``email``, ``phone``, ``card`` (Luhn-checked),
``iban`` (mod-97-checked), ``secret`` (API keys and tokens of well-known shapes) and ``ip``.
A redaction replaces the value with a placeholder (``[EMAIL]``). With ``reversible`` the
placeholders are numbered (``[EMAIL_1]``) and mapped back in the answer, so the model never
sees the value but the client reads its answer as if it had. Answers are checked with
``responses: true``; streams are rewritten as they pass, holding back at most
``stream_window`` characters (plus one unfinished match) so a value split across chunks is
still caught (:mod:`turnout.plugins.streamtext`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
from pydantic import Field

from turnout.errors import GuardrailRefused
from turnout.plugins.base import Host, Plugin, Run, Settings, replace_data
from turnout.plugins.entities import ENTITIES, Entity, Span, find
from turnout.plugins.streamtext import ArrayText, StreamText, rewriter
from turnout.plugins.text import rewrite
from turnout.protocols.registry import PROTOCOLS
from turnout.types import Call, Reply

Action = Literal["redact", "block", "allow"]
PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|SECRET|IP)_(\d{1,6})\]")
MAX_VALUES = 1000  # distinct values one reversible request may map


def _all_redacted() -> dict[Entity, Action]:
    return dict.fromkeys(ENTITIES, "redact")  # type: ignore[arg-type]


class PIISettings(Settings):
    entities: dict[Entity, Action] = Field(
        default_factory=_all_redacted, description="what to do with each kind found"
    )
    requests: bool = Field(True, description="check requests")
    responses: bool = Field(False, description="check answers too (streams included)")
    reversible: bool = Field(False, description="numbered placeholders, mapped back in answers")
    stream_window: int = Field(
        256, ge=16, le=8192, description="characters a stream holds back to see split values"
    )
    max_stream_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="a stream that is not SSE is checked whole up to this"
    )


class _State:
    __slots__ = ("decided", "mapping", "numbers", "stream")

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}  # placeholder -> original (reversible)
        self.numbers: dict[tuple[str, str], str] = {}  # (kind, value) -> placeholder
        self.decided: set[tuple[str, str]] = set()
        self.stream: StreamText | ArrayText | None = None


class PII(Plugin):
    name = "pii"
    Settings = PIISettings

    def __init__(self, settings: PIISettings, host: Host) -> None:
        super().__init__(settings, host)
        self.actions: dict[str, str] = {
            str(k): str(a) for k, a in settings.entities.items() if a != "allow"
        }
        self.kinds = frozenset(self.actions)
        skip = set()
        if not settings.requests:
            skip.add("before")
        if not settings.responses and not (settings.reversible and settings.requests):
            skip.update(("after", "on_chunk", "on_stream_end"))
        self.skip = frozenset(skip)

    # -- requests ------------------------------------------------------------------------------
    async def before(self, call: Call, run: Run) -> Reply | None:
        if not self.settings.requests or not self.kinds:
            return None
        state = run.state = _State()
        data, changed = rewrite(call.data, lambda text: self._redact(text, run, state, True))
        if changed:
            replace_data(call, data)
        return None

    def _redact(self, text: str, run: Run, state: _State, numbered: bool) -> str:
        spans = find(text, self.kinds)
        if not spans:
            return text
        return _replace(text, spans, lambda s: self._placeholder(text, s, run, state, numbered))

    def _placeholder(self, text: str, span: Span, run: Run, state: _State, numbered: bool) -> str:
        start, end, kind = span
        if self.actions[kind] == "block":
            raise GuardrailRefused(
                f"This request contains personal data or a secret ({kind}); it was not sent.",
                plugin=run.plugin,
                rule=kind,
            )
        if (kind, "redact") not in state.decided:
            state.decided.add((kind, "redact"))
            run.decide(kind, "redact")
        label = kind.upper()
        if not (numbered and self.settings.reversible):
            return f"[{label}]"
        value = text[start:end]
        found = state.numbers.get((kind, value))
        if found is None:
            if len(state.mapping) >= MAX_VALUES:
                return f"[{label}]"
            found = f"[{label}_{len(state.mapping) + 1}]"
            state.numbers[(kind, value)] = found
            state.mapping[found] = value
        return found

    # -- answers -------------------------------------------------------------------------------
    def _filter(self, run: Run) -> _Filter | None:
        state = run.state if isinstance(run.state, _State) else None
        restore = state.mapping if state is not None and state.mapping else None
        if not self.settings.responses and restore is None:
            return None
        if state is None:
            state = run.state = _State()
        return _Filter(self, run, state, restore)

    async def after(self, call: Call, reply: Reply, run: Run) -> Reply:
        if reply.status >= 300 or not reply.body:
            return reply
        filt = self._filter(run)
        if filt is None:
            return reply
        try:
            data = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            self._unreadable(reply.body)
            return reply
        data, changed = rewrite(data, filt.whole)
        if changed:
            reply.body = orjson.dumps(data)
        return reply

    async def on_chunk(self, call: Call, chunk: bytes, run: Run) -> bytes:
        state = run.state if isinstance(run.state, _State) else None
        if state is not None and state.stream is not None:
            return state.stream.feed(chunk)
        filt = self._filter(run)
        if filt is None:
            return chunk
        sse = PROTOCOLS[call.protocol].variant(call).sse
        limit = self.settings.max_stream_bytes
        filt.state.stream = rewriter(filt, sse, limit, self._unreadable)
        return filt.state.stream.feed(chunk)

    async def on_stream_end(self, call: Call, run: Run) -> bytes:
        state = run.state if isinstance(run.state, _State) else None
        if state is None or state.stream is None:
            return b""
        return state.stream.finish()

    def _unreadable(self, body: bytes) -> bytes:
        """An answer that is not the JSON it should be cannot be checked: refused when answers
        must be checked, passed on when only placeholders were to be mapped back."""
        if self.settings.responses:
            raise GuardrailRefused(
                "The answer could not be checked for personal data.",
                plugin=self.name,
                rule="unreadable",
            )
        return body


class _Filter:
    """The answer's filter: placeholders mapped back, new findings redacted (``responses``)."""

    def __init__(self, plugin: PII, run: Run, state: _State, restore: dict[str, str] | None):
        self.plugin = plugin
        self.run = run
        self.state = state
        self.restore = restore
        self.redact = plugin.settings.responses
        self.window = plugin.settings.stream_window

    def whole(self, text: str) -> str:
        return self.split(text, True)[0]

    def split(self, text: str, final: bool) -> tuple[str, str]:
        spans = find(text, self.plugin.kinds) if self.redact else []
        if self.restore:
            spans = _merge(spans, [(m.start(), m.end(), "") for m in PLACEHOLDER.finditer(text)])
        cut = len(text)
        if not final:
            cut = max(0, cut - self.window)
            space = max(text.rfind(" ", 0, cut), text.rfind("\n", 0, cut))
            if space >= 0 and cut - space < self.window:
                cut = space + 1  # a neutral left edge for what is matched next
            for start, end, _ in spans:
                if start < cut < end:
                    cut = start
                    break
        kept = [s for s in spans if s[1] <= cut]
        out = _replace(text[:cut], kept, self._replacement(text)) if kept else text[:cut]
        return out, text[cut:]

    def _replacement(self, text: str) -> Any:
        def one(span: Span) -> str:
            start, end, kind = span
            if not kind:  # a placeholder of the request
                value = text[start:end]
                return self.restore.get(value, value) if self.restore else value
            return self.plugin._placeholder(text, span, self.run, self.state, False)

        return one


def _merge(a: list[Span], b: list[Span]) -> list[Span]:
    out: list[Span] = []
    for span in sorted(a + b):
        if out and span[0] < out[-1][1]:
            continue
        out.append(span)
    return out


def _replace(text: str, spans: list[Span], fn: Any) -> str:
    parts: list[str] = []
    at = 0
    for span in spans:
        parts.append(text[at : span[0]])
        parts.append(fn(span))
        at = span[1]
    parts.append(text[at:])
    return "".join(parts)
