from __future__ import annotations

import pytest

from turnout.errors import BadRequest
from turnout.names import check_model_name, is_model_name, is_request_id, path_segment

REAL = [
    "gpt-4o-2024-08-06",
    "models/gemini-2.0-flash",
    "ft:gpt-4o-mini:org:name:id",
    "meta-llama/Llama-3.1-8B-Instruct",
    "llama3.1:8b",
    "@cf/meta/llama-3-8b-instruct",
    "anthropic.claude-3-sonnet-20240229-v1:0",
    "Qwen/Qwen2.5_7B+instruct",
    "a",
]
HOSTILE = [
    "",
    "gem-x/../../v1beta/files",
    "..",
    "gem-x?key=attacker",
    "gem-x#frag",
    "gem x",
    "gem\x00",
    "gem\r\nx: 1",
    "gem-é",
    "gem-%2F",
    "-leading-dash",
    "/leading-slash",
    "x" * 257,
    "*",
    "gpt-[ab]",
]


@pytest.mark.parametrize("name", REAL)
def test_real_model_identifiers_pass(name: str) -> None:
    assert is_model_name(name)
    assert check_model_name(name) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_implausible_names_are_a_400_that_does_not_echo_them(name: str) -> None:
    assert not is_model_name(name)
    with pytest.raises(BadRequest) as caught:
        check_model_name(name)
    assert caught.value.param == "model"
    assert name not in caught.value.message or name in ("", "..")


def test_a_path_segment_cannot_leave_its_segment() -> None:
    assert path_segment("gemini-2.0-flash") == "gemini-2.0-flash"
    assert path_segment("org/model:v1@2+x") == "org%2Fmodel%3Av1%402%2Bx"
    assert "/" not in path_segment("../..") and "?" not in path_segment("a?b#c")


def test_request_ids_must_be_plain_tokens() -> None:
    assert is_request_id(b"req_0123-abc.def:ghi/jkl=")
    assert is_request_id(b"3b0c2b2a-7a55-4c1d-9d69-0f6c4a1f1e0b")
    for bad in (b"", b"a b", b"a\tb", b"\xff", b"a\x01", b"x" * 201):
        assert not is_request_id(bad)
