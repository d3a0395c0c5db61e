"""Whether text arriving in pieces is the beginning of a JSON object, and at its end one.

A tool call's arguments cross a stream in pieces. Where the client's protocol carries them as
an object (Anthropic's ``input_json_delta``, whose SDK parses every piece as it arrives), the
gateway must not write a piece after which the text can no longer be an object, nor close a
call whose text is not a whole one: before, an upstream's malformed arguments made the
Anthropic SDK raise a ``ValueError`` of its own in the middle of the stream, and arguments cut
short (``{"city": "Pa``) reached the client as a complete, smaller ``input``.

:class:`ObjectPrefix` checks a piece in time linear in its length, without keeping the text:
inside strings (most of any arguments) it jumps from one quote or backslash to the next.
"""

from __future__ import annotations

import re

# In a string: the next character that is not plain content.
_SPECIAL = re.compile(r'["\\\x00-\x1f]')
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = frozenset('"\\/bfnrtu')
_NUMBER_PREFIX = re.compile(r"-?(?:0|[1-9][0-9]*)?(?:\.[0-9]*)?(?:[eE][+-]?[0-9]*)?")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = ("true", "false", "null")
_WHITESPACE = frozenset(" \t\r\n")
_SCALAR = frozenset("0123456789+-.eEtrufalsn")
# Containers open at once. The Anthropic SDK parses every piece with jiter, which stops at 200
# levels with a ValueError of its own (and orjson writes no more than 255): before, an
# upstream's arguments nested deeper crashed the client's stream helper mid-stream. Real
# arguments nest a few levels; past this they are the upstream's failure, as any non-object.
MAX_DEPTH = 128

# What may come next, outside strings and scalars.
_TOP = 0  # the opening brace of the object
_FIRST_KEY = 1  # a key or a closing brace (right after an opening one)
_KEY = 2  # a key (after a comma in an object)
_COLON = 3
_VALUE = 4
_FIRST_VALUE = 5  # a value or a closing bracket (right after an opening one)
_NEXT = 6  # a comma or the container's closing bracket
_END = 7  # nothing but whitespace


class ObjectPrefix:
    """Fed the pieces of one text in order; ``feed`` is False from the first piece after
    which the text cannot begin a JSON object, :meth:`complete` tells whether it is one
    (an empty text counts as the empty object, as a call without arguments)."""

    __slots__ = (
        "_broken",
        "_empty",
        "_escape",
        "_expect",
        "_hex",
        "_is_key",
        "_low",
        "_scalar",
        "_stack",
        "_string",
    )

    def __init__(self) -> None:
        self._stack: list[str] = []  # the open containers' closing brackets
        self._expect = _TOP
        self._string = False
        self._is_key = False
        self._escape = -1  # -1 none; 0 right after a backslash; 1-4 hex digits still due
        self._hex = ""  # the digits of a \\u escape read so far
        self._low = False  # a high surrogate's escape was read: a low one must follow
        self._scalar = ""  # a number or literal being read
        self._broken = False
        self._empty = True

    def complete(self) -> bool:
        return not self._broken and (self._empty or self._expect == _END)

    def feed(self, text: str) -> bool:
        if self._broken:
            return False
        if text:
            self._empty = self._empty and not text.strip()
            if not self._scan(text):
                self._broken = True
        return not self._broken

    def _scan(self, text: str) -> bool:
        i, n = 0, len(text)
        while i < n:
            if self._string:
                i = self._in_string(text, i)
                if i < 0:
                    return False
                continue
            c = text[i]
            if self._scalar:
                if c in _SCALAR:
                    self._scalar += c
                    if not self._scalar_prefix():
                        return False
                    i += 1
                    continue
                if not self._end_scalar():
                    return False
            i += 1
            if c in _WHITESPACE:
                continue
            if not self._token(c):
                return False
        return True

    def _in_string(self, text: str, i: int) -> int:
        """Reads string content from ``i``; the index after what it read, -1 if invalid.
        JSON parsers refuse a lone UTF-16 surrogate (``\\ud800`` not followed by a low
        one's escape, or a low one alone), and so does this."""
        c = text[i]
        if self._escape == 0:
            if c not in _ESCAPES or (self._low and c != "u"):
                return -1
            self._escape = 4 if c == "u" else -1
            return i + 1
        if self._escape > 0:
            if c not in _HEX:
                return -1
            self._hex += c
            self._escape -= 1
            if self._escape == 0:
                self._escape = -1
                return i + 1 if self._surrogate(int(self._hex, 16)) else -1
            return i + 1
        if self._low:
            if c != "\\":
                return -1
            self._escape = 0
            return i + 1
        found = _SPECIAL.search(text, i)
        if found is None:
            return len(text)
        c = found.group()
        if c == "\\":
            self._escape = 0
        elif c == '"':
            self._string = False
            self._expect = _COLON if self._is_key else _NEXT
        else:
            return -1  # a control character
        return found.end()

    def _surrogate(self, code: int) -> bool:
        self._hex = ""
        high = 0xD800 <= code <= 0xDBFF
        low = 0xDC00 <= code <= 0xDFFF
        if self._low:
            self._low = False
            return low
        self._low = high
        return not low

    def _scalar_prefix(self) -> bool:
        word = self._scalar
        if word[0] in "tfn":
            return any(literal.startswith(word) for literal in _LITERALS)
        return _NUMBER_PREFIX.fullmatch(word) is not None

    def _end_scalar(self) -> bool:
        word, self._scalar = self._scalar, ""
        self._expect = _NEXT
        return word in _LITERALS or _NUMBER.fullmatch(word) is not None

    def _close(self, c: str) -> bool:
        if not self._stack or self._stack.pop() != c:
            return False
        self._expect = _NEXT if self._stack else _END
        return True

    def _token(self, c: str) -> bool:
        expect = self._expect
        if expect == _TOP:
            if c != "{":
                return False
            self._stack.append("}")
            self._expect = _FIRST_KEY
            return True
        if expect in (_FIRST_KEY, _KEY):
            if c == '"':
                self._string, self._is_key = True, True
                return True
            return expect == _FIRST_KEY and c == "}" and self._close(c)
        if expect == _COLON:
            if c != ":":
                return False
            self._expect = _VALUE
            return True
        if expect in (_VALUE, _FIRST_VALUE):
            return self._value(c, expect == _FIRST_VALUE)
        if expect == _NEXT:
            if c == ",":
                self._expect = _KEY if self._stack[-1] == "}" else _VALUE
                return True
            return c in "]}" and self._close(c)
        return False  # _END: only whitespace

    def _value(self, c: str, first: bool) -> bool:
        if c == '"':
            self._string, self._is_key = True, False
        elif c in "{[" and len(self._stack) >= MAX_DEPTH:
            return False
        elif c == "{":
            self._stack.append("}")
            self._expect = _FIRST_KEY
        elif c == "[":
            self._stack.append("]")
            self._expect = _FIRST_VALUE
        elif c in _SCALAR and c not in "+.eE":
            self._scalar = c
            return self._scalar_prefix()
        else:
            return first and c == "]" and self._close(c)
        return True


__all__ = ["ObjectPrefix"]
