"""Which source-protocol fields may be dropped when translating to another protocol.

``to_ir`` keeps every field it cannot map in ``IRRequest.extras``. A same-family ``from_ir``
re-emits them; any other target consults the source protocol's ``harmless`` table (in its
descriptor, ``protocols/<name>/spec.py``): a field listed there is dropped when the target would
ignore it anyway (or when its value is the default; the check says so), anything else raises a
TranslationError naming the field. Keys starting with ``_`` are internal markers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turnout.ir import IRRequest, TranslationError

Harmless = Callable[[Any], bool] | None


def falsy(value: Any) -> bool:
    return not value


def text_only(value: Any) -> bool:
    return value in (None, ["text"], ["TEXT"], ["Text"])


def check_extras(req: IRRequest, target: str) -> None:
    """Raise for the first unmapped source field that the ``target`` cannot honour."""
    if req.source == target or not req.extras:
        return
    from turnout.protocols.registry import PROTOCOLS  # the registry imports this module

    source = PROTOCOLS.get(req.source)
    table = source.harmless if source is not None else {}
    for key, value in req.extras.items():
        if key.startswith("_"):
            continue
        if key in table:
            check = table[key]
            if check is None or check(value):
                continue
        raise TranslationError(key, f"has no equivalent in the {target} protocol")
