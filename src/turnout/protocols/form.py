"""``multipart/form-data`` request bodies (OpenAI's audio transcriptions and translations, image
edits and variations): read only the text fields routing needs, forward the client's bytes
unchanged (the model renamed in place).

The body was already bounded by ``server.max_body_bytes`` when it was read; here it is only
searched (``bytes.find``), never copied part by part: the audio file's bytes are skipped by
offset. A form the gateway and an upstream could read differently is refused with a 400 rather
than guessed at: a second ``boundary`` parameter, a text field given twice (which ``model``
would the upstream take?), a name given to a file and a text field, a file named ``model``, a
field name in RFC 5987's ``name*=`` form, an unterminated part, and a part whose name another
parser could read otherwise (two dispositions, two names, a folded line, a backslash).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from turnout.errors import BadRequest

MAX_PARTS = 64  # files and fields together
MAX_HEAD_BYTES = 8 * 1024  # one part's headers
MAX_FIELD_BYTES = 64 * 1024  # one text field's value
_EXTENDED = re.compile(rb"(?:^|[;\s])name\*=", re.IGNORECASE)
# RFC 2046's boundary characters (a space only inside); those after the first group need quotes.
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_SPECIAL = re.compile(rb"[()+,/:=? ]")
_UNSAFE_NAME = re.compile(r'["\\\r\n]')


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    file: bool
    start: int  # its content, as offsets into the body
    end: int


def _bad(message: str) -> BadRequest:
    return BadRequest(f"Malformed multipart/form-data body: {message}")


def boundary(content_type: bytes) -> bytes:
    """The boundary of a ``multipart/form-data`` content type (400 for anything else)."""
    mime, _, params = content_type.partition(b";")
    if mime.strip().lower() != b"multipart/form-data":
        raise BadRequest("This operation takes a multipart/form-data body")
    found: list[bytes] = []
    for param in params.split(b";"):
        key, _, value = param.strip().partition(b"=")
        if key.strip().lower() == b"boundary":
            value = value.strip()
            if len(value) >= 2 and value[:1] == value[-1:] == b'"':
                value = value[1:-1]
            found.append(value)
    if len(found) != 1 or _BOUNDARY.fullmatch(found[0]) is None:
        raise _bad("the content type must name one boundary of 1 to 70 characters (RFC 2046)")
    return found[0]


def content_type(client: bytes) -> str:
    """The content type sent upstream: rebuilt from the client's validated boundary (quoted
    when it holds a character that needs it), nothing else of the client's header."""
    mark = boundary(client)
    value = f'"{mark.decode()}"' if _SPECIAL.search(mark) else mark.decode()
    return f"multipart/form-data; boundary={value}"


def _disposition(head: bytes) -> tuple[str, bool]:
    """A part's name and whether it is a file, read from its one Content-Disposition by the
    standard library's RFC 2045 parameter parser (quoted strings are values: ``x="; name=a"``
    names nothing). What an upstream's parser could read otherwise is a 400: a second
    disposition (which one would it take?), a folded header line, a second ``name``, a
    backslash (unescaped by some parsers, kept by others), a quote in a name, RFC 5987's
    ``name*=``."""
    found: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            raise _bad("a folded header line (obsolete line folding) is not supported")
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-disposition":
            found.append(value)
    if len(found) != 1:
        raise _bad("a part must have one Content-Disposition with a name")
    raw = found[0]
    if _EXTENDED.search(raw):
        raise _bad("a field named with name*= (RFC 5987) is not supported")
    if b"\\" in raw:
        raise _bad("a backslash in a Content-Disposition is not supported")
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise _bad("a field name is not UTF-8") from None
    header = Message()
    header["content-disposition"] = text
    params = header.get_params(header="content-disposition") or []
    names = [value for key, value in params[1:] if key == "name"]
    if len(names) != 1 or not isinstance(names[0], str):
        raise _bad("a part must have one Content-Disposition with a name")
    if '"' in names[0]:  # quotes run together (name="a" name="b"): parsers differ
        raise _bad("a field name holding a quote is not supported")
    return names[0], any(key == "filename" for key, _ in params[1:])


def _closes(body: bytes, delimiter: bytes, at: int) -> bool:
    """Whether a delimiter starts at ``at``: the boundary followed by ``--`` (the last) or by
    optional spaces and a line end (RFC 2046). ``--xyzQ`` inside a file is not one, for the
    gateway as for a strict upstream: the two must see the same parts."""
    if not body.startswith(delimiter, at):
        return False
    after = at + len(delimiter)
    if body.startswith(b"--", after):
        return True
    while body[after : after + 1] in (b" ", b"\t"):
        after += 1
    return body.startswith(b"\r\n", after)


def _delimiter(body: bytes, marker: bytes, start: int) -> int:
    """Where the next real delimiter line (``marker``: CRLF, ``--`` and the boundary) starts,
    or -1."""
    at = body.find(marker, start)
    while at >= 0 and not _closes(body, marker, at):
        at = body.find(marker, at + 1)
    return at


def parts(body: bytes, mark: bytes) -> list[Part]:
    """Every part of ``body``, by offsets."""
    delimiter = b"--" + mark
    if _closes(body, delimiter, 0):
        pos = 0
    else:  # after a preamble, whose last CRLF belongs to the delimiter
        pos = _delimiter(body, b"\r\n" + delimiter, 0)
        if pos < 0:
            raise _bad("the boundary does not occur in the body")
        pos += 2
    out: list[Part] = []
    while True:
        pos += len(delimiter)
        if body.startswith(b"--", pos):  # the closing delimiter
            return out
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            raise _bad("the body ends inside a boundary line")
        head_start = eol + 2
        head_end = body.find(b"\r\n\r\n", head_start, head_start + MAX_HEAD_BYTES)
        if head_end < 0:
            raise _bad("a part's headers are missing or too long")
        name, file = _disposition(body[head_start:head_end])
        start = head_end + 4
        end = _delimiter(body, b"\r\n" + delimiter, start)
        if end < 0:
            raise _bad("a part is not followed by a boundary")
        out.append(Part(name, file, start, end))
        if len(out) > MAX_PARTS:
            raise _bad(f"more than {MAX_PARTS} parts")
        pos = end + 2


def fields(body: bytes, content_type: bytes) -> dict[str, str]:
    """The form's text fields (the files are left where they are). A field given twice is a
    400, except an array (``include[]``), whose values are joined by commas here (routing
    reads none of them). So is a name given to a file and to a text field, a file named
    ``model`` and a field ``model[...]``: an upstream may read them as the model the gateway
    did not check."""
    out: dict[str, str] = {}
    files: set[str] = set()
    for part in parts(body, boundary(content_type)):
        if part.name != "model" and part.name.partition("[")[0] == "model":
            # ``model[]``, ``model[0]``: a qs-style parser (PHP, Rails, Express) reads ``model``
            raise BadRequest("model: must be one text field named model", param="model")
        if part.file:
            if part.name == "model":
                raise BadRequest("model: must be a text field, not a file", param="model")
            files.add(part.name)
            continue
        if part.end - part.start > MAX_FIELD_BYTES:
            raise BadRequest(f"{part.name}: a text field longer than 64 KiB", param=part.name)
        try:
            value = body[part.start : part.end].decode()
        except UnicodeDecodeError:
            raise BadRequest(f"{part.name}: not UTF-8 text", param=part.name) from None
        if part.name in out:
            if not part.name.endswith("[]"):
                raise BadRequest(f"{part.name}: given more than once", param=part.name)
            value = f"{out[part.name]},{value}"
        out[part.name] = value
    if clash := files.intersection(out):
        name = min(clash)
        raise BadRequest(f"{name}: given both as a file and as a text field", param=name)
    return out


def renamed(body: bytes, content_type: bytes, field: str, value: str) -> bytes:
    """``body`` with the text field ``field`` set to ``value``; every other byte as it was.
    A field the form lacks (an image edit's optional ``model``, named by the gateway's
    default) is added as the last part."""
    mark = boundary(content_type)
    text = value.encode()
    if b"--" + mark in text or _UNSAFE_NAME.search(field):
        raise _bad(f"a value for {field} the form cannot carry")
    found = parts(body, mark)
    for part in found:
        if part.name == field and not part.file:
            return body[: part.start] + text + body[part.end :]
    if not found:
        raise _bad("the form has no parts")
    at = found[-1].end  # where the closing delimiter starts
    disposition = f'\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n'
    head = b"\r\n--" + mark + disposition.encode()
    return body[:at] + head + text + body[at:]
