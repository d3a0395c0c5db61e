"""An upload's lines: CRLF endings and a last newline accepted, the file sent on keeps every
byte of meaning but the model, a client file name that could break the form is not used."""

from __future__ import annotations

import json
from typing import Any

import pytest

from turnout.errors import BadRequest
from turnout.openai_batches import lines
from turnout.protocols import form

LINE: dict[str, Any] = {
    "custom_id": "a",
    "method": "POST",
    "url": "/v1/chat/completions",
    "body": {"model": "pub", "messages": [{"role": "user", "content": "é\n"}], "n": 2},
}


def test_lines_are_renamed_and_nothing_else_changes() -> None:
    data = (json.dumps(LINE) + "\r\n" + json.dumps({**LINE, "custom_id": "b"}) + "\r\n").encode()
    upload = lines.check("f.jsonl", data, 0, len(data))
    assert upload.models == ["pub"] and upload.endpoint == "/v1/chat/completions"
    kind, body = lines.upstream_form(upload, {"pub": "up"})
    (part,) = [p for p in form.parts(body, form.boundary(kind.encode())) if p.name == "file"]
    sent = [json.loads(x) for x in body[part.start : part.end].splitlines()]
    assert [x["custom_id"] for x in sent] == ["a", "b"]
    assert sent[0] == {**LINE, "body": {**LINE["body"], "model": "up"}}


def _upload_form(head: str, data: bytes) -> bytes:
    return (
        b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        + f"--x\r\n{head}\r\n\r\n".encode()
        + data
        + b"\r\n--x--\r\n"
    )


@pytest.mark.parametrize("filename", ["../../etc/passwd", "a;b", "%22x%0d", "é.jsonl"])
def test_a_file_name_that_could_break_the_form_is_replaced(filename: str) -> None:
    data = json.dumps(LINE).encode()
    body = _upload_form(f'Content-Disposition: form-data; name="file"; filename="{filename}"', data)
    name, start, end = lines.read_form(body, b"multipart/form-data; boundary=x", 1000)
    assert name == lines.DEFAULT_NAME and body[start:end] == data


def test_a_file_name_with_an_escaped_quote_is_a_400() -> None:
    head = 'Content-Disposition: form-data; name="file"; filename="a\\"; name=\\"purpose"'
    body = _upload_form(head, json.dumps(LINE).encode())
    with pytest.raises(BadRequest):
        lines.read_form(body, b"multipart/form-data; boundary=x", 1000)


@pytest.mark.parametrize("data", [b"", b"\n", b" \r\n", b"{}\n\n" + json.dumps(LINE).encode()])
def test_a_file_without_good_lines_is_a_400(data: bytes) -> None:
    with pytest.raises(BadRequest):
        lines.check("f", data, 0, len(data))
