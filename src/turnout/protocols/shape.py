"""Shapes: what the translators read from a JSON body, checked before they read it.

The gateway forwards what it does not need and validates nothing it does not read; but what a
translator *does* read it reads as a particular type (``content`` as a string or a list of
parts, ``max_tokens`` as an integer). A body with another type there used to reach the
translator and crash it (a plain 500, retried three times by every SDK). A shape describes
exactly those fields, and :meth:`Shape.check` walks a body against it once, before
translation, raising :class:`ShapeError` with the path of the first field of the wrong type
(``messages[0].content: expected a string or an array, got a number``). Requests turn it into
a 400 in the client's protocol; upstream answers into a 502.

Shapes are open: keys they do not name are not looked at (they are forwarded or ignored), and
a named key that is absent is fine unless listed as required. ``null`` is accepted only where
the shape says so (:func:`opt`), because a translator that reads ``x.get("k", "")`` gets
``None`` for a present ``null``.

Every field of every message is walked, so a long conversation's check was half of its
translation (a 200-message request: docs/measurements.md). A container therefore accepts a
child whose exact type its shape needs no more than (:attr:`Shape.fast`: the JSON types
``orjson`` gives, for which ``check`` is the type test alone) without calling it; any other
value takes the full ``check``, which decides as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ShapeError(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message

    def within(self, prefix: str) -> ShapeError:
        """The same error seen from the container at ``prefix`` (``messages``, ``[0]``).
        Paths are built on the way out of a failure, never for the fields that pass."""
        path = self.path
        if not path:
            path = prefix
        elif path.startswith("["):
            path = prefix + path
        else:
            path = f"{prefix}.{path}"
        return ShapeError(path, self.message)


def got(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# One value of each type a parsed JSON document holds, to ask a shape which it accepts.
_SAMPLES: tuple[Any, ...] = ("", 0, 0.0, True, None, [], {})
_ALL: frozenset[type] = frozenset(type(v) for v in _SAMPLES)


class Shape:
    """The base: accepts anything."""

    __slots__ = ("fast", "name")

    def __init__(self, name: str = "any value") -> None:
        self.name = name
        # Exact types whose values pass ``check`` on their type alone (the caller may skip
        # the call for them). Fixed at construction: a subclass that looks inside narrows it.
        self.fast: frozenset[type] = _ALL

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has this shape's JSON type (not looking inside it)."""
        return True

    def check(self, value: Any, path: str = "") -> None:
        if not self.accepts(value):
            raise ShapeError(path, f"expected {self.name}, got {got(value)}")


class Scalar(Shape):
    __slots__ = ("_types",)

    def __init__(self, name: str, *types: type) -> None:
        super().__init__(name)
        self._types = types
        self.fast = frozenset(type(v) for v in _SAMPLES if self.accepts(v))

    def accepts(self, value: Any) -> bool:
        # JSON true/false are not numbers, although Python's bool is an int.
        return isinstance(value, self._types) and not (
            isinstance(value, bool) and bool not in self._types
        )


ANY = Shape()
STR = Scalar("a string", str)
INT = Scalar("an integer", int)
NUM = Scalar("a number", int, float)
BOOL = Scalar("a boolean", bool)
NULL = Scalar("null", type(None))


class Arr(Shape):
    __slots__ = ("item", "min_items")

    def __init__(self, item: Shape = ANY, min_items: int = 0) -> None:
        super().__init__("a non-empty array" if min_items else "an array")
        self.item = item
        self.min_items = min_items
        self.fast = frozenset((list,)) if item is ANY and not min_items else frozenset()

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list)

    def check(self, value: Any, path: str = "") -> None:
        if not isinstance(value, list):
            raise ShapeError(path, f"expected {self.name}, got {got(value)}")
        if len(value) < self.min_items:
            raise ShapeError(path, f"expected {self.name}, got an empty array")
        item = self.item
        if item is ANY:
            return
        fast = item.fast
        for i, element in enumerate(value):
            if type(element) in fast:
                continue
            try:
                item.check(element)
            except ShapeError as exc:
                raise exc.within(f"{path}[{i}]") from None


class Obj(Shape):
    __slots__ = ("fields", "required")

    def __init__(
        self, fields: Mapping[str, Shape] | None = None, required: tuple[str, ...] = ()
    ) -> None:
        super().__init__("an object")
        self.fields = dict(fields or {})
        self.required = required
        self.fast = frozenset()  # its fields may be added later (recursive shapes)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, path: str = "") -> None:
        if not isinstance(value, dict):
            raise ShapeError(path, f"expected an object, got {got(value)}")
        for key in self.required:
            if value.get(key) is None:
                raise ShapeError(_join(path, key), "missing")
        for key, shape in self.fields.items():
            if key in value:
                field = value[key]
                if type(field) in shape.fast:
                    continue
                try:
                    shape.check(field)
                except ShapeError as exc:
                    raise exc.within(_join(path, key)) from None


class OneOf(Shape):
    """The first alternative whose JSON type matches decides (alternatives differ by type)."""

    __slots__ = ("_first", "options")

    def __init__(self, *options: Shape) -> None:
        super().__init__(" or ".join(o.name for o in options))
        self.options = options
        # The alternative each JSON type goes to, decided once.
        self._first: dict[type, Shape] = {}
        for sample in _SAMPLES:
            chosen = next((o for o in options if o.accepts(sample)), None)
            if chosen is not None:
                self._first[type(sample)] = chosen
        self.fast = frozenset(t for t, o in self._first.items() if t in o.fast)

    def accepts(self, value: Any) -> bool:
        return any(o.accepts(value) for o in self.options)

    def check(self, value: Any, path: str = "") -> None:
        option = self._first.get(type(value))
        if option is not None:
            option.check(value, path)
            return
        for option in self.options:  # not a parsed JSON value's own type
            if option.accepts(value):
                option.check(value, path)
                return
        raise ShapeError(path, f"expected {self.name}, got {got(value)}")


class Tagged(Shape):
    """An object whose ``key`` (``type``) selects its shape: other tags get ``default``, an
    object without the key gets ``absent`` (``default`` unless given)."""

    __slots__ = ("absent", "default", "key", "variants")

    def __init__(
        self,
        key: str,
        variants: Mapping[str, Obj],
        default: Obj | None = None,
        absent: Obj | None = None,
    ) -> None:
        super().__init__("an object")
        self.fast = frozenset()
        self.key = key
        self.variants = dict(variants)
        self.default = default or Obj()
        self.absent = absent or self.default

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, path: str = "") -> None:
        if not isinstance(value, dict):
            raise ShapeError(path, f"expected an object, got {got(value)}")
        tag = value.get(self.key)
        if tag is None:
            shape = self.absent
        elif isinstance(tag, str):
            shape = self.variants.get(tag, self.default)
        else:
            shape = self.default
        shape.check(value, path)


def checked(shape: Shape, value: Any, path: str = "") -> Any:
    """``value`` itself once it has ``shape`` (raises :class:`ShapeError` otherwise)."""
    shape.check(value, path)
    return value


def opt(shape: Shape) -> Shape:
    """``shape`` or null."""
    return OneOf(shape, NULL)


def both(camel: str, snake: str, shape: Shape) -> dict[str, Shape]:
    """One field under both of its proto-JSON spellings (Gemini accepts either)."""
    return {camel: shape, snake: shape}


__all__ = [
    "ANY",
    "BOOL",
    "INT",
    "NULL",
    "NUM",
    "STR",
    "Arr",
    "Obj",
    "OneOf",
    "Shape",
    "ShapeError",
    "Tagged",
    "both",
    "checked",
    "got",
    "opt",
]
