"""The shape checker's fast path (a child whose exact type is all its shape asks is not
called) decides exactly as the plain walk: the same verdict and the same error, on documents
built from the four protocols' own shapes with wrong types planted anywhere."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout.protocols.anthropic import shapes as anthropic
from turnout.protocols.gemini import shapes as gemini
from turnout.protocols.openai import shapes as openai
from turnout.protocols.responses import shapes as responses
from turnout.protocols.shape import (
    BOOL,
    INT,
    NUM,
    STR,
    Arr,
    Obj,
    OneOf,
    Scalar,
    Shape,
    ShapeError,
    Tagged,
    _join,
    got,
    opt,
)

SHAPES = {
    f"{module.__name__.rsplit('.', 2)[1]}.{name}": getattr(module, name)
    for module in (openai, anthropic, gemini, responses)
    for name in ("REQUEST", "RESPONSE")
}
# Every kind of node, bare and optional, as the protocols' shapes may come to hold them.
SHAPES["every kind"] = Obj(
    {
        "i": INT,
        "n": NUM,
        "b": BOOL,
        "s": STR,
        "a": Arr(),
        "ints": Arr(INT, 1),
        "either": opt(OneOf(STR, Arr(Obj({"x": opt(INT)}, required=("x",))))),
        "tagged": Tagged("type", {"t": Obj({"v": NUM})}, default=Obj({"w": BOOL})),
    }
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-2, 2),
    st.text(max_size=3),
    st.just([]),
    st.just({}),
)


def reference(shape: Shape, value: Any, path: str = "") -> None:
    """The checker as it was before the fast path: every child checked by a call."""
    if isinstance(shape, Obj):
        if not isinstance(value, dict):
            raise ShapeError(path, f"expected an object, got {got(value)}")
        for key in shape.required:
            if value.get(key) is None:
                raise ShapeError(_join(path, key), "missing")
        for key, child in shape.fields.items():
            if key in value:
                reference(child, value[key], _join(path, key))
    elif isinstance(shape, Arr):
        if not isinstance(value, list):
            raise ShapeError(path, f"expected {shape.name}, got {got(value)}")
        if len(value) < shape.min_items:
            raise ShapeError(path, f"expected {shape.name}, got an empty array")
        for i, element in enumerate(value):
            reference(shape.item, element, f"{path}[{i}]")
    elif isinstance(shape, OneOf):
        for option in shape.options:
            if option.accepts(value):
                reference(option, value, path)
                return
        raise ShapeError(path, f"expected {shape.name}, got {got(value)}")
    elif isinstance(shape, Tagged):
        if not isinstance(value, dict):
            raise ShapeError(path, f"expected an object, got {got(value)}")
        tag = value.get(shape.key)
        if tag is None:
            chosen = shape.absent
        elif isinstance(tag, str):
            chosen = shape.variants.get(tag, shape.default)
        else:
            chosen = shape.default
        reference(chosen, value, path)
    elif not shape.accepts(value):
        raise ShapeError(path, f"expected {shape.name}, got {got(value)}")


def documents(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of ``shape`` (at the top, always of its type), each node below now and then of
    another type."""
    if depth > 4:
        return LEAVES
    if isinstance(shape, Obj):
        fields = {k: documents(s, depth + 1) for k, s in shape.fields.items()}
        right: st.SearchStrategy[Any] = st.fixed_dictionaries({}, optional=fields)
    elif isinstance(shape, Tagged):
        right = st.one_of(
            *(
                st.fixed_dictionaries(
                    {shape.key: st.just(tag)},
                    optional={k: documents(s, depth + 1) for k, s in variant.fields.items()},
                )
                for tag, variant in shape.variants.items()
            )
        )
    elif isinstance(shape, Arr):
        right = st.lists(documents(shape.item, depth + 1), max_size=2)
    elif isinstance(shape, OneOf):
        right = st.one_of(*(documents(o, depth) for o in shape.options))
    elif isinstance(shape, Scalar):
        right = LEAVES.filter(shape.accepts)
    else:
        right = LEAVES
    return right if depth == 0 else st.one_of(right, LEAVES)


def _verdict(check: Any, shape: Shape, value: Any) -> tuple[str, str] | None:
    try:
        check(shape, value)
    except ShapeError as exc:
        return exc.path, exc.message
    return None


# Built once: a strategy for a recursive shape is itself large.
DOCUMENTS = {name: documents(shape) for name, shape in SHAPES.items()}


@pytest.mark.parametrize("name", list(SHAPES))
@settings(max_examples=60, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_the_fast_path_decides_as_the_plain_walk(name: str, data: st.DataObject) -> None:
    shape = SHAPES[name]
    value = data.draw(DOCUMENTS[name])
    fast = _verdict(lambda s, v: s.check(v), shape, value)
    assert fast == _verdict(reference, shape, value)
