"""The text a router reads from a request, and the answer text a judge reads from a response.

A router decides from the prompt alone, before any upstream is called, so it reads the last
user turn (plus the system prompt, which often says what kind of task follows) in whichever
protocol the client spoke. Answers are read back from captured responses, whole or streamed,
for the LLM-as-judge labeller. Both are bounded: a router must cost the same for a 1 MB prompt
as for a short one, so only the first ``max_chars`` characters are kept.

Pure functions over parsed JSON; never raises on odd shapes (client bytes are untrusted), it
returns less text instead.
"""

from __future__ import annotations

from typing import Any

import orjson

DEFAULT_MAX_CHARS = 2000


def _parts_text(content: Any) -> str:
    """Text of an OpenAI/Anthropic content value (a string or a list of typed parts) or of
    Gemini ``parts``."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    out = []
    for part in content:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict):
            text = part.get("text")
            if isinstance(text, str):
                out.append(text)
    return "\n".join(out)


def _last_user(messages: Any, role_key: str, user: str, content_key: str) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get(role_key, user) == user:
            text = _parts_text(message.get(content_key))
            if text:
                return text
    return ""


def prompt_text(data: dict[str, Any], protocol: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """System prompt and last user turn of a chat request in ``protocol``'s shape."""
    if protocol == "gemini":
        system = data.get("systemInstruction") or data.get("system_instruction")
        sys_text = _parts_text(system.get("parts")) if isinstance(system, dict) else ""
        user = _last_user(data.get("contents"), "role", "user", "parts")
    elif protocol == "anthropic":
        sys_text = _parts_text(data.get("system"))
        user = _last_user(data.get("messages"), "role", "user", "content")
    else:
        messages = data.get("messages")
        sys_text = ""
        if isinstance(messages, list):
            for m in messages:
                if isinstance(m, dict) and m.get("role") in ("system", "developer"):
                    sys_text = _parts_text(m.get("content"))
                    break
        user = _last_user(messages, "role", "user", "content")
        if not user and isinstance(data.get("prompt"), str):  # legacy completions
            user = data["prompt"]
    text = f"{sys_text}\n{user}" if sys_text else user
    return text[:max_chars]


def answer_text(body: Any, protocol: str) -> str:
    """The visible text of a whole (non-stream) response body, parsed JSON."""
    if not isinstance(body, dict):
        return body if isinstance(body, str) else ""
    if protocol == "anthropic":
        return _parts_text(body.get("content"))
    if protocol == "gemini":
        return _gemini_candidate(body)
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return _parts_text(message.get("content"))
    return ""


def _gemini_candidate(body: dict[str, Any]) -> str:
    candidates = body.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        content = candidates[0].get("content")
        if isinstance(content, dict):
            return _parts_text(content.get("parts"))
    return ""


def _sse_payloads(raw: str) -> list[Any]:
    out = []
    for line in raw.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if not payload or payload == "[DONE]":
            continue
        try:
            out.append(orjson.loads(payload))
        except orjson.JSONDecodeError:
            continue
    return out


def stream_text(chunks: list[str], protocol: str) -> str:
    """The visible text of a streamed response from its raw chunks (SSE, or Gemini's JSON
    array stream)."""
    raw = "".join(chunks)
    if protocol == "gemini" and "data:" not in raw:
        try:
            events = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return ""
        events = events if isinstance(events, list) else []
    else:
        events = _sse_payloads(raw)
    out = []
    for event in events:
        if not isinstance(event, dict):
            continue
        if protocol == "anthropic":
            delta = event.get("delta")
            if event.get("type") == "content_block_delta" and isinstance(delta, dict):
                text = delta.get("text")
                if isinstance(text, str):
                    out.append(text)
        elif protocol == "gemini":
            out.append(_gemini_candidate(event))
        else:
            choices = event.get("choices")
            if isinstance(choices, list) and choices and isinstance(choices[0], dict):
                delta = choices[0].get("delta")
                if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                    out.append(delta["content"])
    return "".join(out)
