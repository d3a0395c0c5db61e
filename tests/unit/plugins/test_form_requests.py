"""A plugin that rewrites a multipart request (a transcription's ``prompt``) keeps the form:
its file and boundary stay, only the changed text field is rewritten (plugins/base.py)."""

from __future__ import annotations

import time

from turnout.plugins.base import replace_data
from turnout.protocols import form
from turnout.types import Call

TYPE = b"multipart/form-data; boundary=zz"
AUDIO = bytes(range(256))


def _form(prompt: str) -> bytes:
    return (
        b'--zz\r\ncontent-disposition: form-data; name="model"\r\n\r\nw\r\n'
        b'--zz\r\ncontent-disposition: form-data; name="prompt"\r\n\r\n'
        + prompt.encode()
        + b'\r\n--zz\r\ncontent-disposition: form-data; name="file"; filename="a.mp3"\r\n\r\n'
        + AUDIO
        + b"\r\n--zz--\r\n"
    )


def test_a_rewritten_form_field_keeps_the_file_and_the_form() -> None:
    body = _form("call ann@example.com")
    data = form.fields(body, TYPE)
    call = Call("openai", "transcriptions", "w", body, data, False, {b"content-type": TYPE}, "r",
                time.perf_counter())  # fmt: skip
    replace_data(call, {**data, "prompt": "call [EMAIL]"})
    assert call.body == _form("call [EMAIL]")  # before: a JSON object, the audio gone
    assert form.fields(call.body, TYPE) == {"model": "w", "prompt": "call [EMAIL]"}
