"""multipart/form-data bodies (protocols/form.py): the text fields read, the bytes kept, and
every form two parsers could read differently refused."""

from __future__ import annotations

import pytest

from turnout.errors import BadRequest
from turnout.protocols import form

TYPE = b"multipart/form-data; boundary=xyz"


def _body(model: bytes = b"m") -> bytes:
    return (
        b"preamble\r\n--xyz\r\n"
        b'Content-Disposition: form-data; name="model"\r\n\r\n' + model + b"\r\n"
        b'--xyz\r\ncontent-disposition: form-data; name="file"; filename="a;b.mp3"\r\n'
        b"content-type: audio/mpeg\r\n\r\n\x00\r\n--xy\xff\r\n"
        b"--xyz\r\ncontent-disposition: form-data; name=include[]\r\n\r\na\r\n"
        b"--xyz\r\ncontent-disposition: form-data; name=include[]\r\n\r\nb\r\n--xyz--\r\n"
    )


def test_text_fields_are_read_and_files_skipped() -> None:
    assert form.fields(_body(), TYPE) == {"model": "m", "include[]": "a,b"}


def test_the_model_is_renamed_in_place_and_nothing_else_changes() -> None:
    body = _body()
    out = form.renamed(body, TYPE, "model", "upstream-name")
    assert out == _body(b"upstream-name")
    assert form.fields(out, TYPE)["model"] == "upstream-name"


@pytest.mark.parametrize(
    ("header", "sent"),
    [
        (b"multipart/form-data; boundary=xyz", "multipart/form-data; boundary=xyz"),
        (b'Multipart/Form-Data; boundary="a b:c"', 'multipart/form-data; boundary="a b:c"'),
        (b"multipart/form-data; charset=x; boundary=q1", "multipart/form-data; boundary=q1"),
    ],
)
def test_the_upstream_content_type_is_rebuilt_from_the_boundary(header: bytes, sent: str) -> None:
    assert form.content_type(header) == sent


@pytest.mark.parametrize(
    "header",
    [
        b"application/json",
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b"multipart/form-data; boundary=a; boundary=b",
        b"multipart/form-data; boundary=" + b"a" * 71,
        b'multipart/form-data; boundary="a\\"b"',
        b"multipart/form-data; boundary=a\x00b",
    ],
)
def test_a_content_type_without_one_clean_boundary_is_a_400(header: bytes) -> None:
    with pytest.raises(BadRequest):
        form.boundary(header)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"--xyz\r\n" + b"x" * 9000,  # headers that never end
        b'--xyz\r\ncontent-disposition: form-data; name="model"\r\n\r\nm',  # never closed
        b"--xyz\r\ncontent-type: text/plain\r\n\r\nm\r\n--xyz--",  # no name
        b"--xyz\r\ncontent-disposition: form-data; name*=utf-8''model\r\n\r\nm\r\n--xyz--",
        b'--xyz\r\ncontent-disposition: form-data; name="model"\r\n\r\na\r\n'
        b'--xyz\r\ncontent-disposition: form-data; name="model"\r\n\r\nb\r\n--xyz--',
        b'--xyz\r\ncontent-disposition: form-data; name="model"\r\n\r\n\xff\r\n--xyz--',
        b"".join(
            b'--xyz\r\ncontent-disposition: form-data; name="f[]"\r\n\r\nv\r\n' for _ in range(65)
        )
        + b"--xyz--",
    ],
    ids=["empty", "head", "open", "unnamed", "extended", "twice", "not-utf8", "parts"],
)
def test_a_form_two_parsers_could_read_differently_is_a_400(body: bytes) -> None:
    with pytest.raises(BadRequest):
        form.fields(body, TYPE)


def test_a_boundary_lookalike_inside_a_file_is_not_a_delimiter() -> None:
    """``--xyzQ`` in a file's bytes ends nothing (RFC 2046: a delimiter is followed by ``--``
    or a line end): a strict upstream reads one model, the gateway the same one."""
    fake = b'\r\n--xyzQ\r\ncontent-disposition: form-data; name="model"\r\n\r\ncheap'
    body = (
        b'--xyz\r\ncontent-disposition: form-data; name="file"; filename="a"\r\n\r\n'
        + fake
        + b'\r\n--xyz \t\r\ncontent-disposition: form-data; name="model"\r\n\r\ndear'
        + b"\r\n--xyz--"
    )
    assert form.fields(body, TYPE) == {"model": "dear"}
    file = form.parts(body, b"xyz")[0]
    assert body[file.start : file.end] == fake
    assert form.fields(b"\r\n" + body, TYPE) == {"model": "dear"}  # an empty preamble


def test_a_missing_field_is_added_as_the_last_part() -> None:
    """An image edit naming no model goes to the gateway's default: the upstream is told the
    model it serves in a field added before the closing delimiter, every other byte kept."""
    body = _body().replace(b'name="model"', b'name="prompt"')
    out = form.renamed(body, TYPE, "model", "up")
    assert out.startswith(body[: -len(b"\r\n--xyz--\r\n")]) and out.endswith(b"\r\n--xyz--\r\n")
    assert form.fields(out, TYPE) == {"prompt": "m", "include[]": "a,b", "model": "up"}


@pytest.mark.parametrize("value", ["a\r\n--xyz\r\nx", "--xyz"])
def test_a_value_carrying_the_delimiter_is_never_written(value: str) -> None:
    with pytest.raises(BadRequest):
        form.renamed(_body(), TYPE, "model", value)


@pytest.mark.parametrize("name", ["model", "include[]"])
def test_a_file_named_like_a_text_field_or_model_is_a_400(name: str) -> None:
    """Which would an upstream take: the text the gateway checked, or the file's bytes?"""
    extra = f'--xyz\r\ncontent-disposition: form-data; name="{name}"; filename="f"\r\n\r\nx\r\n'
    body = _body().replace(b"--xyz--\r\n", extra.encode() + b"--xyz--\r\n")
    with pytest.raises(BadRequest) as caught:
        form.fields(body, TYPE)
    assert caught.value.param == name
