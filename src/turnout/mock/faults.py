"""The frames the mock's byte-level faults put into a stream, in each protocol's shape."""

from __future__ import annotations

from turnout.mock import anthropic, gemini, openai


def fault_cut(frame_count: int) -> int:
    """Index of the frame where mid-stream faults strike: about half way, never before 1."""
    return max(1, frame_count // 2)


def garbage(protocol: str, sse: bool) -> bytes:
    if protocol == "openai":
        return openai.garbage_frame()
    if protocol == "anthropic":
        return anthropic.garbage_frame()
    return gemini.garbage_frame(sse)


def error_frame(protocol: str, sse: bool) -> bytes:
    if protocol == "openai":
        return openai.error_frame()
    if protocol == "anthropic":
        return anthropic.error_frame()
    return gemini.error_frame(sse)
