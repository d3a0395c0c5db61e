"""Knobs of the mock provider and their per-request overrides.

The server is started with default knobs (CLI flags); any request may override them with
``x-mock-*`` headers so one running mock can play every scenario a test needs without a
restart. A bad override value is reported as a 400 instead of being ignored, so a typo in a
test shows up as a failure rather than as a silently "healthy" upstream.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final, Literal, cast, get_args

if TYPE_CHECKING:
    from turnout.mock.skills import SkillProfile

Fault = Literal["disconnect", "hang", "malformed", "truncate", "error-midstream"]
FAULTS: Final[frozenset[str]] = frozenset(get_args(Fault))
ToolMode = Literal["named", "first"]
TOOL_MODES: Final[frozenset[str]] = frozenset(get_args(ToolMode))
DEFAULT_TOKENS: Final = 16
MAX_TOKENS_KNOB: Final = 100_000


class SettingsError(ValueError):
    """An ``x-mock-*`` header (or a CLI flag) carries a value the mock cannot honour."""


@dataclass(frozen=True, slots=True)
class MockSettings:
    """Behaviour of one mock response.

    ``status`` other than 200 turns the response into an error in the request's protocol;
    ``retry_after`` (seconds) adds a ``retry-after`` header to such errors; ``ttft_ms`` delays
    the first byte; ``chunk_ms`` spaces stream frames; ``tokens`` is the completion length.
    ``tools`` decides when a tool is called: ``named`` (a sane model: only when the prompt
    names one or ``tool_choice`` requires one) or ``first`` (the first offered tool on every
    turn that does not carry a tool result, for tests of tool-call plumbing).
    """

    status: int = 200
    retry_after: float | None = None
    ttft_ms: float = 0.0
    chunk_ms: float = 0.0
    tokens: int = DEFAULT_TOKENS
    fault: Fault | None = None
    skills: SkillProfile | None = None  # answer quality per model (mock/skills.py); off: None
    tools: ToolMode = "named"

    def __post_init__(self) -> None:
        if isinstance(self.fault, str):  # callers holding a plain str (CLI): "none" -> None
            object.__setattr__(self, "fault", parse_fault(self.fault))
        check_settings(self)


def check_settings(s: MockSettings) -> None:
    """Reject impossible knob combinations early, where the culprit is still known."""
    if not 100 <= s.status <= 599:
        raise SettingsError(f"status must be within 100..599, got {s.status}")
    if s.retry_after is not None and not (math.isfinite(s.retry_after) and s.retry_after >= 0):
        raise SettingsError("retry_after must be a non-negative number")
    for name, value in (("ttft_ms", s.ttft_ms), ("chunk_ms", s.chunk_ms)):
        if not (math.isfinite(value) and value >= 0):
            raise SettingsError(f"{name} must be a non-negative number")
    if not 0 <= s.tokens <= MAX_TOKENS_KNOB:
        raise SettingsError(f"tokens must be within 0..{MAX_TOKENS_KNOB}")
    if s.tools not in TOOL_MODES:
        raise SettingsError(f"unknown tools mode {s.tools!r}; expected one of {sorted(TOOL_MODES)}")
    if s.fault is not None and s.fault not in FAULTS:
        raise SettingsError(f"unknown fault {s.fault!r}; expected one of {sorted(FAULTS)}")


def parse_fault(value: str) -> Fault | None:
    """Map a flag/header value to a fault; ``none`` and empty mean "no fault"."""
    v = value.strip().lower()
    if v in ("", "none", "off"):
        return None
    if v not in FAULTS:
        raise SettingsError(f"unknown fault {value!r}; expected one of {sorted(FAULTS)}")
    return cast(Fault, v)


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise SettingsError(f"{name} must be a non-negative number, got {raw!r}")
    return value


def _integer(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def apply_overrides(base: MockSettings, headers: Mapping[str, str]) -> MockSettings:
    """Layer the request's ``x-mock-*`` headers (lowercase names) over the server defaults."""
    changes: dict[str, object] = {}
    if (raw := headers.get("x-mock-status")) is not None:
        changes["status"] = _integer("x-mock-status", raw)
    if (raw := headers.get("x-mock-retry-after")) is not None:
        changes["retry_after"] = _number("x-mock-retry-after", raw) if raw.strip() else None
    if (raw := headers.get("x-mock-ttft-ms")) is not None:
        changes["ttft_ms"] = _number("x-mock-ttft-ms", raw)
    if (raw := headers.get("x-mock-chunk-ms")) is not None:
        changes["chunk_ms"] = _number("x-mock-chunk-ms", raw)
    if (raw := headers.get("x-mock-tokens")) is not None:
        changes["tokens"] = _integer("x-mock-tokens", raw)
    if (raw := headers.get("x-mock-fault")) is not None:
        changes["fault"] = parse_fault(raw)
    if (raw := headers.get("x-mock-tools")) is not None:
        changes["tools"] = raw.strip().lower()
    if not changes:
        return base
    return replace(base, **changes)  # type: ignore[arg-type]
