"""Personal data and secrets in text: emails, phone numbers, card numbers, IBANs, API keys,
IP addresses.

Regular expressions find candidates and checksums confirm them where a format has one (Luhn
for cards, ISO 7064 mod 97 for IBANs, :mod:`ipaddress` for IPv6), so a long order number is
not a card and a random 22-character token is not an IBAN. Every expression has bounded
repetitions, so no input makes one backtrack for long. Microsoft Presidio was
weighed and not used (docs/plugins.md#pii: its NER models cost milliseconds per request and
hundreds of megabytes; the entities here are the pattern-shaped ones).
"""

from __future__ import annotations

import heapq
import ipaddress
import re
from collections.abc import Callable
from typing import Literal, get_args

Entity = Literal["email", "phone", "card", "iban", "secret", "ip"]
ENTITIES: tuple[str, ...] = get_args(Entity)

_EMAIL = (
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![\w-])"
)
_SECRET = (
    r"(?<![\w-])(?:"
    r"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,200}"
    r"|AKIA[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,80}"
    r"|github_pat_[A-Za-z0-9_]{40,120}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,120}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|eyJ[A-Za-z0-9_-]{8,400}\.eyJ[A-Za-z0-9_-]{8,1000}\.[A-Za-z0-9_-]{8,400}"
    r")(?![\w-])"
)
_IBAN = r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])"
_CARD = r"(?<![\d.-])\d(?:[ -]?\d){12,18}(?![\d-])"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\d]|\.\d)"
_IPV6 = r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])"
_PHONE = (
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])"
    r"|(?<![\w+])\+\d{7,15}(?!\w)"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}[./-]\d{2}[./-]\d{2,4}")


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def _ipv6(text: str) -> bool:
    if text.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    if text.startswith("+"):
        return 7 <= digits <= 15
    return 8 <= digits <= 15 and _DATE.fullmatch(text) is None


def _always(text: str) -> bool:
    return True


# In priority order: where two candidates overlap, the earlier kind wins (a key that
# contains digits is a secret, not a phone number).
DETECTORS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool]], ...] = (
    ("secret", re.compile(_SECRET), _always),
    ("email", re.compile(_EMAIL), _always),
    ("iban", re.compile(_IBAN), _iban),
    ("card", re.compile(_CARD), _luhn),
    ("ip", re.compile(_IPV4), _always),
    ("ip", re.compile(_IPV6), _ipv6),
    ("phone", re.compile(_PHONE), _phone),
)

Span = tuple[int, int, str]  # start, end, entity


def find(text: str, wanted: frozenset[str]) -> list[Span]:
    """Non-overlapping entity spans of the ``wanted`` kinds, in text order. Linear in the
    matches per detector (a hostile text full of candidates must not cost quadratic time)."""
    found: list[Span] = []  # sorted, non-overlapping, so ends increase with starts
    for kind, regex, check in DETECTORS:
        if kind not in wanted:
            continue
        fresh: list[Span] = []
        i, n = 0, len(found)
        for m in regex.finditer(text):  # in order, non-overlapping among themselves
            start, end = m.span()
            while i < n and found[i][1] <= start:
                i += 1
            if i < n and found[i][0] < end:
                continue  # overlaps a kind found earlier, which wins
            if check(m.group()):
                fresh.append((start, end, kind))
        if fresh:
            found = list(heapq.merge(found, fresh))
    return found
