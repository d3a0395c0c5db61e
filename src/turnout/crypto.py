"""AES-256-GCM for secrets at rest (provider credentials added through the admin API).

The key comes from ``TURNOUT_SECRET_KEY``: 32 bytes as 64 hex digits or base64, or any
passphrase of at least 32 characters (stretched with HKDF-SHA256; it must carry 256 bits of
entropy on its own, since HKDF does not slow guessing). Generate one with
``python -c "import secrets; print(secrets.token_hex(32))"``.

A sealed value is ``v1.<key id>.<base64url(nonce | ciphertext | tag)>``: a fresh 96-bit nonce
per value, and the row it belongs to as associated data, so a ciphertext copied onto another
row does not decrypt. The key id (8 hex digits of the key's SHA-256) tells "encrypted with a
different key" apart from "corrupt" without revealing anything about the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENV = "TURNOUT_SECRET_KEY"
_VERSION = "v1"
_NONCE = 12


class SecretKeyError(ValueError):
    """No usable secret key, or a value sealed with another key / tampered with."""


def _decode_key(text: str) -> bytes:
    text = text.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            return raw
    if len(text) >= 32:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"turnout secret key v1"
        ).derive(text.encode())
    raise SecretKeyError(
        f"{ENV} must be 32 bytes (64 hex digits or base64) or a passphrase of 32+ characters"
    )


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretKeyError("AES-256 needs a 32-byte key")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id!r})"

    @classmethod
    def from_text(cls, text: str) -> SecretBox:
        return cls(_decode_key(text))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SecretBox | None:
        text = environ.get(ENV)
        return cls.from_text(text) if text else None

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self.key_id}.{body}"

    def open(self, sealed: str, context: str) -> str:
        try:
            version, key_id, body = sealed.split(".", 2)
        except ValueError:
            raise SecretKeyError("not a sealed value") from None
        if version != _VERSION:
            raise SecretKeyError(f"unknown sealed format {version!r}")
        if key_id != self.key_id:
            raise SecretKeyError(f"sealed with another {ENV} (key id {key_id})")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], context.encode()).decode()
        except InvalidTag:
            raise SecretKeyError("sealed value was tampered with or moved") from None
