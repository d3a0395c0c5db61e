"""``keywords``: refuse requests (and optionally whole answers) that contain denied words,
phrases or patterns.

Words and phrases match case-insensitively on word boundaries; ``patterns`` are regular
expressions (Python syntax) written by the operator. Everything is compiled into one
expression when the configuration is loaded, so a request is scanned once whatever the list's
length. A refusal is a 400 in the client's protocol naming the plugin and the rule (the word,
or ``pattern[i]``), never the text that matched. With ``responses`` answers are checked too:
a whole answer is replaced by the refusal; a stream is checked as it passes, holding back
``stream_window`` characters so a word split across chunks is still seen, and ends with the
refusal as its protocol's error event.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from turnout.errors import GuardrailRefused
from turnout.plugins.base import Host, Plugin, Run, Settings
from turnout.plugins.streamtext import ArrayText, StreamText, rewriter
from turnout.plugins.text import plain, texts
from turnout.protocols.registry import PROTOCOLS
from turnout.types import Call, Reply


class KeywordSettings(Settings):
    deny: list[str] = Field(default_factory=list, description="words or phrases refused")
    patterns: list[str] = Field(default_factory=list, description="regular expressions refused")
    requests: bool = Field(True, description="refuse requests that match")
    responses: bool = Field(False, description="refuse answers that match (streams too)")
    stream_window: int = Field(
        128, ge=8, le=8192, description="characters a stream holds back to see split words"
    )
    max_stream_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="a stream that is not SSE is checked whole up to this"
    )
    message: str = Field(
        "This request was refused by the gateway's content policy.",
        description="what the client is told (the rule is appended)",
    )

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for i, pattern in enumerate(value):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {i}: invalid regular expression: {exc}") from None
        return value


class Keywords(Plugin):
    name = "keywords"
    Settings = KeywordSettings

    def __init__(self, settings: KeywordSettings, host: Host) -> None:
        super().__init__(settings, host)
        self.rules: list[str] = []
        parts: list[str] = []
        for word in settings.deny:
            if word.strip():
                # Any run of whitespace between a phrase's words ("secret\n\tplan").
                phrase = r"\s+".join(re.escape(w) for w in plain(word).split())
                parts.append(rf"(?<!\w){phrase}(?!\w)")
                self.rules.append(word.strip().lower())
        for i, pattern in enumerate(settings.patterns):
            parts.append(f"(?:{pattern})")
            self.rules.append(f"pattern[{i}]")
        groups = "|".join(f"(?P<r{i}>{p})" for i, p in enumerate(parts))
        self.regex = re.compile(groups, re.IGNORECASE) if parts else None
        skip = set() if settings.requests and self.regex is not None else {"before"}
        if not settings.responses or self.regex is None:
            skip.update(("after", "on_chunk", "on_stream_end"))
        self.skip = frozenset(skip)

    def find(self, obj: Any) -> str | None:
        """The rule the first match in ``obj``'s texts broke, or None."""
        if self.regex is None:
            return None
        for text in texts(obj):
            m = self.regex.search(plain(text))
            if m is not None and m.lastgroup is not None:
                return self.rules[int(m.lastgroup[1:])]
        return None

    def refuse(self, rule: str) -> GuardrailRefused:
        return GuardrailRefused(
            f"{self.settings.message} (keywords: {rule})", plugin=self.name, rule=rule
        )

    async def before(self, call: Call, run: Run) -> Reply | None:
        rule = self.find(call.data)
        if rule is not None:
            raise self.refuse(rule)
        return None

    async def after(self, call: Call, reply: Reply, run: Run) -> Reply:
        if reply.status >= 300 or not reply.body:
            return reply
        import orjson

        try:
            data = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            return reply
        rule = self.find(data)
        if rule is not None:
            raise self.refuse(rule)
        return reply

    async def on_chunk(self, call: Call, chunk: bytes, run: Run) -> bytes:
        if run.state is None:
            screen = _Screen(self, self.settings.stream_window)
            sse = PROTOCOLS[call.protocol].variant(call).sse
            run.state = rewriter(screen, sse, self.settings.max_stream_bytes, self._unreadable)
        stream: StreamText | ArrayText = run.state
        return stream.feed(chunk)

    async def on_stream_end(self, call: Call, run: Run) -> bytes:
        return run.state.finish() if isinstance(run.state, StreamText | ArrayText) else b""

    def _unreadable(self, body: bytes) -> bytes:
        raise GuardrailRefused(
            "The answer could not be checked by the content policy.",
            plugin=self.name,
            rule="unreadable",
        )


class _Screen:
    """A stream filter that changes nothing and refuses at the first match."""

    def __init__(self, plugin: Keywords, window: int) -> None:
        self.plugin = plugin
        self.window = window

    def split(self, text: str, final: bool) -> tuple[str, str]:
        rule = self._find(text)
        if rule is not None:
            raise self.plugin.refuse(rule)
        cut = len(text) if final else max(0, len(text) - self.window)
        return text[:cut], text[cut:]

    def _find(self, text: str) -> str | None:
        regex = self.plugin.regex
        m = regex.search(plain(text)) if regex is not None else None
        if m is None or m.lastgroup is None:
            return None
        return self.plugin.rules[int(m.lastgroup[1:])]
