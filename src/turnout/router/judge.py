"""``turnout router label --judge MODEL``: an LLM grades logged answers, through the gateway.

Each captured (prompt, answer) pair of the model group is sent to the judge model as an
ordinary chat request to the gateway, so the judge is any deployment the gateway serves, with
its failover and accounting. The judge grades single answers on a 1-10 scale and ends with
``Rating: [[N]]`` (the convention of MT-Bench's single-answer grading); ``N`` becomes the score
``(N - 1) / 9``. An answer whose rating cannot be read is counted and skipped, never guessed.
Requests that already have a label from this judge are skipped unless ``relabel``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from turnout.router.captures import Captured
from turnout.router.http import HttpError, post_json
from turnout.router.labels import MAX_DETAIL, Label, now

SYSTEM = (
    "You are an impartial judge of AI assistants. Rate how well the assistant's answer "
    "responds to the user's question: correctness first, then helpfulness and completeness. "
    "Give a one-sentence reason, then the rating from 1 to 10 in exactly this format: "
    '"Rating: [[5]]".'
)
_RATING = re.compile(r"\[\[\s*(10|[1-9])(?:\.\d+)?\s*\]\]")
_LOOSE = re.compile(r"[Rr]ating:?\s*(10|[1-9])\b")


def judge_messages(prompt: str, answer: str) -> list[dict[str, str]]:
    user = (
        f"[Question]\n{prompt}\n\n[The Start of Assistant's Answer]\n{answer}\n"
        "[The End of Assistant's Answer]"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_rating(text: str) -> int | None:
    m = _RATING.search(text) or _LOOSE.search(text)
    return int(m.group(1)) if m else None


def rating_score(rating: int) -> float:
    return (rating - 1) / 9.0


@dataclass(slots=True)
class LabelRun:
    labels: list[Label] = field(default_factory=list)
    unreadable: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _answer_text(body: bytes) -> str:
    data: Any = orjson.loads(body)
    choices = data.get("choices") if isinstance(data, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            return content
    return ""


def judge_one(url: str, judge: str, item: Captured, api_key: str | None, timeout: float) -> str:
    body = {"model": judge, "messages": judge_messages(item.prompt, item.answer), "temperature": 0}
    status, answer = post_json(f"{url.rstrip('/')}/v1/chat/completions", body, api_key, timeout)
    if status != 200:
        raise HttpError(status, answer[:200].decode("utf-8", "replace"))
    return _answer_text(answer)


def label_all(
    items: Sequence[Captured],
    url: str,
    judge: str,
    api_key: str | None = None,
    concurrency: int = 4,
    timeout: float = 120.0,
    progress: Callable[[int], None] | None = None,
) -> LabelRun:
    run = LabelRun()
    source = f"judge:{judge}"

    def one(item: Captured) -> tuple[Captured, str | None, str | None]:
        try:
            return item, judge_one(url, judge, item, api_key, timeout), None
        except (HttpError, orjson.JSONDecodeError) as exc:
            return item, None, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for done, (item, text, error) in enumerate(pool.map(one, items), 1):
            if progress is not None:
                progress(done)
            if text is None:
                run.failed += 1
                if error and len(run.errors) < 5:
                    run.errors.append(error)
                continue
            rating = parse_rating(text)
            if rating is None:
                run.unreadable += 1
                continue
            run.labels.append(
                Label(item.request_id, source, rating_score(rating), now(), text[:MAX_DETAIL])
            )
    return run
