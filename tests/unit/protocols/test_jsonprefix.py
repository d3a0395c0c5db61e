"""The streamed tool arguments' check (turnout/protocols/jsonprefix.py) agrees with a JSON
parser: any text, cut anywhere, is complete exactly when it parses to an object, and a valid
object's text never fails part way."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from turnout.protocols.jsonprefix import ObjectPrefix

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
objects = st.dictionaries(st.text(max_size=6), values, max_size=5)


def _pieces(data: st.DataObject, text: str) -> list[str]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _check(pieces: list[str]) -> tuple[bool, bool]:
    checker = ObjectPrefix()
    fed = all([checker.feed(p) for p in pieces])
    return fed, checker.complete()


def _encodable(value: Any) -> bool:
    """No lone UTF-16 surrogate anywhere (JSON parsers other than Python's refuse one)."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


def _is_object(text: str) -> bool:
    """Python's parser as the judge (it reads a number too large for a double, as the SDKs'
    do, where orjson refuses it), without its tolerance of lone surrogates."""
    if not text.strip():
        return True
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and _encodable(value)


@given(st.data(), objects, st.sampled_from([None, 1, 2]))
def test_an_objects_text_passes_in_any_pieces(data: st.DataObject, value: Any, indent: Any) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=data.draw(st.booleans()))
    fed, complete = _check(_pieces(data, text))
    assert fed and complete, text


@given(st.data(), objects)
def test_a_cut_objects_text_is_a_prefix_but_not_complete(data: st.DataObject, value: Any) -> None:
    text = json.dumps(value)
    cut = data.draw(st.integers(1, len(text) - 1)) if len(text) > 2 else 1
    fed, complete = _check(_pieces(data, text[:cut]))
    assert fed, text[:cut]
    assert not complete or _is_object(text[:cut])


_ALPHABET = st.sampled_from([*'{}[]":,. -+0123456789eEtruefalsn\\u\nx\x01', "ab", '"k"'])


@given(st.data(), st.lists(_ALPHABET, max_size=30).map("".join))
def test_any_text_is_complete_exactly_when_it_parses_to_an_object(
    data: st.DataObject, text: str
) -> None:
    fed, complete = _check(_pieces(data, text))
    assert complete == _is_object(text), text
    if complete:
        assert fed


@given(st.data(), objects, _ALPHABET)
def test_an_objects_text_with_a_wrong_character_fails_or_still_parses(
    data: st.DataObject, value: Any, wrong: str
) -> None:
    text = json.dumps(value)
    at = data.draw(st.integers(0, len(text)))
    spoiled = text[:at] + wrong + text[at:]
    _, complete = _check(_pieces(data, spoiled))
    assert complete == _is_object(spoiled), spoiled


def test_what_the_anthropic_sdk_could_not_read() -> None:
    for bad in ("}", "[1]", '{"a": 1}}', '{"a" 1}', '{"a": tru }', '{"a": 01}', '"x"', "5"):
        assert _check([bad]) != (True, True), bad
    assert _check(['{"a": "Pa']) == (True, False)
    assert _check(["", "  "]) == (True, True)


def test_arguments_nested_past_the_bound_are_no_object_for_the_client() -> None:
    """The Anthropic SDK's parser (jiter) stops at 200 levels with a ValueError of its own:
    deeper arguments are refused before that piece is written, however they are cut."""
    from turnout.protocols.jsonprefix import MAX_DEPTH

    inside = MAX_DEPTH - 1  # the object itself is one level
    assert _check(['{"a": ' + "[" * inside, "]" * inside + "}"]) == (True, True)
    assert _check(['{"a": ' + "[" * inside, "{"])[0] is False
    assert _check(['{"a": ' + "[" * 300 + "]" * 300 + "}"])[0] is False
