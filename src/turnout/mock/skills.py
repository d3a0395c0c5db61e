"""Skill profiles: deterministic per-model answer quality by prompt category, for testing
learned routing.

Off unless a profile is given (``--skills FILE``, JSON or YAML); without one the mock answers
exactly as before. A profile names prompt categories by keywords, each model's chance of
answering each category well, its price (what a gateway config should charge for it; the
mock itself bills nothing), and the models that act as LLM judges::

    seed: demo
    categories:                        # the first category with a keyword in the prompt
      easy: [capital, hello, translate]
      hard: [prove, python, derive]
    default_category: easy
    models:
      cheap-1:  {quality: {easy: 0.95, hard: 0.15}, price: {input: 0.1, output: 0.4}}
      strong-1: {quality: {easy: 0.97, hard: 0.95}, price: {input: 5.0, output: 15.0}}
    judges: [judge-1]

Whether a model answers a prompt well is a seeded hash of (model, prompt) compared with its
quality for the prompt's category: the same question always gets the same verdict, and over
many prompts the share of good answers is the configured quality. The answer's first sentence
says which (``Verdict: correct.`` or ``Verdict: incorrect.``), so a test (or a person) can
give feedback the way a user would notice a wrong answer. A judge model answers MT-Bench
style, ``Rating: [[9]]`` for a judged answer whose verdict is correct and ``Rating: [[2]]``
otherwise (``[[5]]`` when there is nothing to judge).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from turnout.mock.plan import Plan

GOOD, BAD = "Verdict: correct.", "Verdict: incorrect."


class SkillError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ModelSkill:
    quality: Mapping[str, float]
    default: float
    price_input: float | None = None
    price_output: float | None = None


@dataclass(frozen=True, slots=True)
class SkillProfile:
    categories: tuple[tuple[str, tuple[str, ...]], ...]
    default_category: str
    models: Mapping[str, ModelSkill]
    judges: frozenset[str]
    seed: str = ""

    @classmethod
    def parse(cls, raw: Any) -> SkillProfile:
        if not isinstance(raw, dict):
            raise SkillError("a skill profile is a mapping")
        cats = raw.get("categories") or {}
        if not isinstance(cats, dict):
            raise SkillError("categories: a mapping of name to keywords")
        categories = tuple(
            (str(name), tuple(str(k).lower() for k in (words or ())))
            for name, words in cats.items()
        )
        default_category = str(
            raw.get("default_category") or (categories[0][0] if categories else "general")
        )
        models: dict[str, ModelSkill] = {}
        for name, spec in (raw.get("models") or {}).items():
            if not isinstance(spec, dict):
                raise SkillError(f"models.{name}: a mapping")
            quality = {str(k): float(v) for k, v in (spec.get("quality") or {}).items()}
            if any(not 0 <= q <= 1 for q in quality.values()):
                raise SkillError(f"models.{name}.quality: values within 0..1")
            price = spec.get("price") or {}
            models[str(name)] = ModelSkill(
                quality,
                float(spec.get("default", 0.5)),
                None if price.get("input") is None else float(price["input"]),
                None if price.get("output") is None else float(price["output"]),
            )
        judges = frozenset(str(j) for j in (raw.get("judges") or ()))
        return cls(categories, default_category, models, judges, str(raw.get("seed", "")))

    @classmethod
    def load(cls, path: str | Path) -> SkillProfile:
        text = Path(path).read_text()
        if str(path).endswith(".json"):
            return cls.parse(json.loads(text))
        import yaml

        return cls.parse(yaml.safe_load(text))

    def category(self, prompt: str) -> str:
        low = prompt.lower()
        for name, words in self.categories:
            if any(w in low for w in words):
                return name
        return self.default_category

    def correct(self, model: str, prompt: str) -> bool | None:
        """Whether ``model`` answers ``prompt`` well; None for a model without a profile."""
        skill = self.models.get(model)
        if skill is None:
            return None
        quality = skill.quality.get(self.category(prompt), skill.default)
        digest = hashlib.blake2b(f"{self.seed}|{model}|{prompt}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big") / 2**64 < quality

    def shape(self, plan: Plan, prompt: str) -> Plan:
        """The answer of a profiled model (or judge); other models' plans are unchanged."""
        if plan.tool_call is not None or not plan.pieces:
            return plan
        if plan.model in self.judges:
            rating = 9 if GOOD in prompt else 2 if BAD in prompt else 5
            sentence = f"Rating: [[{rating}]]"
        else:
            verdict = self.correct(plan.model, prompt)
            if verdict is None:
                return plan
            sentence = f"{GOOD if verdict else BAD} ({self.category(prompt)})"
        pieces = (sentence, *plan.pieces[1:])
        return replace(plan, pieces=pieces)


def request_prompt(protocol: str, obj: Mapping[str, Any]) -> str:
    """The text of the last user turn of a chat request in any of the three dialects."""
    if protocol == "gemini":
        turns, key = obj.get("contents"), "parts"
    else:
        turns, key = obj.get("messages"), "content"
    if not isinstance(turns, list):
        return ""
    for turn in reversed(turns):
        if not isinstance(turn, dict) or turn.get("role", "user") != "user":
            continue
        content = turn.get(key)
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(
                str(p.get("text")) for p in content if isinstance(p, dict) and "text" in p
            )
    return ""
