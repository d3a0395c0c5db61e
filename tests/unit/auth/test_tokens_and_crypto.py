"""Key material, the ways clients present keys, and sealing secrets at rest."""

from __future__ import annotations

import pytest

from turnout.auth import tokens
from turnout.crypto import SecretBox, SecretKeyError, newest_text, sealed_key_id, split_keys


def test_generated_keys_are_distinct_and_only_their_hash_identifies_them() -> None:
    a, b = tokens.generate(), tokens.generate()
    assert a != b and a.startswith("sk-sy-") and len(a) == 6 + 43
    assert tokens.hex_digest(a) != tokens.hex_digest(b)
    assert tokens.prefix(a) == a[:12] and tokens.prefix(a) != a


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({b"authorization": b"Bearer sk-sy-abc"}, b"", b"sk-sy-abc"),
        ({b"authorization": b"bearer  sk-sy-abc "}, b"", b"sk-sy-abc"),
        ({b"x-api-key": b"sk-sy-ant"}, b"", b"sk-sy-ant"),
        ({b"x-goog-api-key": b"sk-sy-goo"}, b"", b"sk-sy-goo"),
        ({}, b"alt=sse&key=sk-sy-q%2Dx", b"sk-sy-q-x"),
        ({b"authorization": b"Basic dXNlcg=="}, b"", None),
        ({}, b"monkey=1", None),
        ({}, b"", None),
    ],
)
def test_presented(headers: dict[bytes, bytes], query: bytes, expected: bytes | None) -> None:
    assert tokens.presented(headers, query) == expected


def test_bearer_wins_over_other_headers() -> None:
    headers = {b"authorization": b"Bearer first", b"x-api-key": b"second"}
    assert tokens.presented(headers, b"key=third") == b"first"


def test_seal_and_open() -> None:
    box = SecretBox.from_text("ab" * 32)
    sealed = box.seal("sk-provider-secret", "credential:cred_1:openai")
    assert "sk-provider-secret" not in sealed and sealed.startswith("v1.")
    assert box.open(sealed, "credential:cred_1:openai") == "sk-provider-secret"
    assert box.seal("same", "c") != box.seal("same", "c")  # a fresh nonce each time


def test_sealed_values_are_bound_to_their_key_and_row() -> None:
    box = SecretBox.from_text("ab" * 32)
    sealed = box.seal("secret", "credential:cred_1:openai")
    with pytest.raises(SecretKeyError, match="moved"):
        box.open(sealed, "credential:cred_2:openai")  # copied onto another row
    with pytest.raises(SecretKeyError, match="another"):
        SecretBox.from_text("cd" * 32).open(sealed, "credential:cred_1:openai")
    head, body = sealed.rsplit(".", 1)
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(SecretKeyError):
        box.open(f"{head}.{flipped}", "credential:cred_1:openai")


def test_secret_key_spellings() -> None:
    raw = bytes(range(32))
    import base64

    hex_box = SecretBox.from_text(raw.hex())
    b64_box = SecretBox.from_text(base64.b64encode(raw).decode())
    assert hex_box.key_id == b64_box.key_id == SecretBox(raw).key_id
    assert SecretBox.from_text("x" * 40).key_id != hex_box.key_id  # a long passphrase
    with pytest.raises(SecretKeyError):
        SecretBox.from_text("short")
    assert SecretBox.from_env({}) is None
    assert "key_id" in repr(hex_box) and raw.hex() not in repr(hex_box)


def test_a_key_list_seals_with_the_newest_and_opens_with_any() -> None:
    old, new = "ab" * 32, "cd" * 32
    sealed_old = SecretBox.from_text(old).seal("secret", "c")
    both = SecretBox.from_text(f"{new}, {old}")
    assert both.key_id == SecretBox.from_text(new).key_id and len(both.key_ids) == 2
    assert both.open(sealed_old, "c") == "secret"
    assert not both.current(sealed_old)
    fresh = both.reseal(sealed_old, "c")
    assert both.current(fresh) and SecretBox.from_text(new).open(fresh, "c") == "secret"
    with pytest.raises(SecretKeyError, match=SecretBox.from_text(new).key_id):
        SecretBox.from_text(old).open(fresh, "c")  # names the key it would need
    assert old not in repr(both) and new not in repr(both)


def test_a_passphrase_with_a_comma_is_still_one_key() -> None:
    phrase = "correct horse, battery staple and more words to 32+"
    assert split_keys(phrase) == [phrase]
    assert len(SecretBox.from_text(phrase).key_ids) == 1
    assert newest_text(f"{'ab' * 32},{'cd' * 32}") == "ab" * 32
    assert newest_text(phrase) == phrase
    assert sealed_key_id("v1.0123abcd.body") == "0123abcd" and sealed_key_id("junk") is None
    with pytest.raises(SecretKeyError, match="corrupt"):
        SecretBox.from_text("ab" * 32).open(f"v1.{SecretBox.from_text('ab' * 32).key_id}.***", "c")


def test_a_key_given_twice_with_different_values() -> None:
    with pytest.raises(tokens.TwoKeys):
        tokens.presented({}, b"key=a&alt=sse&key=b")
    assert tokens.presented({}, b"key=a&key=a") == b"a"  # the same key twice names one caller
    lines = [(b"authorization", b"Bearer a"), (b"x-other", b"1"), (b"authorization", b"Bearer b")]
    assert tokens.repeated(lines) == "authorization"
    assert tokens.repeated([(b"x-api-key", b"a"), (b"x-api-key", b"a")]) is None
    assert tokens.repeated([(b"x-tag", b"1"), (b"x-tag", b"2")]) is None
