"""``keywords``: refuse requests (and optionally whole answers) that contain denied words,
phrases or patterns.

Words and phrases match case-insensitively on word boundaries; ``patterns`` are regular
expressions (Python syntax) written by the operator. Everything is compiled into one
expression when the configuration is loaded, so a request is scanned once whatever the list's
length. A refusal is a 400 in the client's protocol naming the plugin and the rule (the word,
or ``pattern[i]``), never the text that matched.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from turnout.errors import GuardrailRefused
from turnout.plugins.base import Host, Plugin, Run, Settings
from turnout.plugins.text import texts
from turnout.types import Call, Reply


class KeywordSettings(Settings):
    deny: list[str] = Field(default_factory=list, description="words or phrases refused")
    patterns: list[str] = Field(default_factory=list, description="regular expressions refused")
    responses: bool = Field(False, description="also refuse whole answers that match")
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
                parts.append(rf"(?<!\w){re.escape(word.strip())}(?!\w)")
                self.rules.append(word.strip().lower())
        for i, pattern in enumerate(settings.patterns):
            parts.append(f"(?:{pattern})")
            self.rules.append(f"pattern[{i}]")
        groups = "|".join(f"(?P<r{i}>{p})" for i, p in enumerate(parts))
        self.regex = re.compile(groups, re.IGNORECASE) if parts else None

    def find(self, obj: Any) -> str | None:
        """The rule the first match in ``obj``'s texts broke, or None."""
        if self.regex is None:
            return None
        for text in texts(obj):
            m = self.regex.search(text)
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
        if not self.settings.responses or reply.status >= 300 or not reply.body:
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
