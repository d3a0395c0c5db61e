"""Synthetic routing data: prompts of an easy and a hard kind, a cheap deployment that only
answers the easy ones well and a strong one that answers both, decided by a seeded hash."""

from __future__ import annotations

import hashlib
import random
from typing import Any

CHEAP, STRONG = "mock/cheap-1", "mock/strong-1"
EASY = [
    "What is the capital of {x}?",
    "Say hello to {x} politely.",
    "Translate the word {x} into French.",
    "Give me a synonym for {x}.",
]
HARD = [
    "Prove that the sum of the first {n} odd numbers equals {n} squared, rigorously.",
    "Write a Python function that parses {x} files and handles malformed input.",
    "Derive the closed form of the recurrence T(n) = {n} T(n/2) + n log n.",
    "Explain the asymptotic complexity of merging {n} sorted lists of {x} records.",
]
WORDS = ["France", "Peru", "Kenya", "Norway", "apple", "river", "Maria", "Tokyo", "window",
         "garden", "CSV", "JSON", "YAML", "log", "Chile", "Egypt"]  # fmt: skip
QUALITY = {CHEAP: {"easy": 0.95, "hard": 0.1}, STRONG: {"easy": 0.97, "hard": 0.95}}
COST = {CHEAP: 0.00002, STRONG: 0.0006}


def prompts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        kind = "easy" if i % 2 == 0 else "hard"
        template = rnd.choice(EASY if kind == "easy" else HARD)
        out.append((template.format(x=rnd.choice(WORDS), n=rnd.randint(2, 99)) + f" #{i}", kind))
    return out


def good(deployment: str, prompt: str, kind: str) -> bool:
    h = hashlib.blake2b(f"{deployment}|{prompt}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < QUALITY[deployment][kind]


def rows(n: int, seed: int = 0, paired: bool = True) -> list[dict[str, Any]]:
    out = []
    rnd = random.Random(seed + 1)
    for prompt, kind in prompts(n, seed):
        targets = [CHEAP, STRONG] if paired else [rnd.choice([CHEAP, STRONG])]
        for d in targets:
            out.append({"prompt": prompt, "deployment": d, "score": float(good(d, prompt, kind)),
                        "cost": COST[d], "category": kind})  # fmt: skip
    return out
