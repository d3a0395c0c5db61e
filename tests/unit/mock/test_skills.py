"""Skill profiles: deterministic answer quality per model and category; judges that rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from turnout.mock.engine import respond
from turnout.mock.settings import MockSettings, apply_overrides
from turnout.mock.skills import BAD, GOOD, SkillError, SkillProfile

PROFILE = {
    "seed": "t",
    "categories": {"easy": ["capital", "hello"], "hard": ["prove"]},
    "models": {
        "cheap-1": {"quality": {"easy": 0.9, "hard": 0.1}, "price": {"input": 0.1}},
        "strong-1": {"quality": {"easy": 1.0, "hard": 1.0}},
    },
    "judges": ["judge-1"],
}


def _chat(settings: MockSettings, model: str, text: str, **extra: Any) -> str:
    body = orjson.dumps({"model": model, "messages": [{"role": "user", "content": text}], **extra})
    resp = respond("POST", "/v1/chat/completions", "", {}, body, settings)
    assert resp.body is not None
    return str(orjson.loads(resp.body)["choices"][0]["message"]["content"])


def test_quality_by_category_is_deterministic_and_about_right() -> None:
    profile = SkillProfile.parse(PROFILE)
    assert profile.category("What is the CAPITAL of Peru?") == "easy"
    assert profile.category("Prove it") == "hard"
    assert profile.category("something else") == "easy"  # the first category is the default
    easy = [profile.correct("cheap-1", f"capital {i}") for i in range(2000)]
    hard = [profile.correct("cheap-1", f"prove {i}") for i in range(2000)]
    assert 0.87 < sum(easy) / 2000 < 0.93 and 0.07 < sum(hard) / 2000 < 0.13  # type: ignore[arg-type]
    assert easy == [profile.correct("cheap-1", f"capital {i}") for i in range(2000)]
    assert profile.correct("unknown", "x") is None


def test_answers_carry_their_verdict_and_judges_rate_them() -> None:
    settings = MockSettings(skills=SkillProfile.parse(PROFILE))
    good = _chat(settings, "strong-1", "prove that 1 = 1")
    assert good.startswith(GOOD + " (hard)")
    rating = _chat(settings, "judge-1", f"Question: prove that 1 = 1\nAnswer: {good}")
    assert rating.startswith("Rating: [[9]]")
    bad = _chat(settings, "judge-1", f"Answer: {BAD}")
    assert bad.startswith("Rating: [[2]]")
    # A model without a profile answers as it always did.
    plain = _chat(settings, "other", "prove that 1 = 1")
    assert plain == _chat(MockSettings(), "other", "prove that 1 = 1")
    assert apply_overrides(settings, {"x-mock-tokens": "4"}).skills is settings.skills


def test_every_protocol_reads_the_prompt() -> None:
    settings = MockSettings(skills=SkillProfile.parse(PROFILE))
    body = orjson.dumps(
        {
            "model": "strong-1",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        }
    )
    resp = respond("POST", "/v1/messages", "", {}, body, settings)
    assert orjson.loads(resp.body or b"")["content"][0]["text"].startswith(GOOD + " (easy)")
    gem = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "prove x"}]}]})
    resp = respond("POST", "/v1beta/models/strong-1:generateContent", "", {}, gem, settings)
    parts = orjson.loads(resp.body or b"")["candidates"][0]["content"]["parts"]
    assert parts[0]["text"].startswith(GOOD + " (hard)")


def test_profiles_load_from_yaml_and_json_and_are_checked(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "p.yaml").write_text(yaml.safe_dump(PROFILE))
    (tmp_path / "p.json").write_text(orjson.dumps(PROFILE).decode())
    assert SkillProfile.load(tmp_path / "p.yaml") == SkillProfile.load(tmp_path / "p.json")
    with pytest.raises(SkillError, match="quality"):
        SkillProfile.parse({"models": {"m": {"quality": {"easy": 2}}}})
