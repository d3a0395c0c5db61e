"""AES-256-GCM for secrets at rest (provider credentials, OAuth tokens).

The key comes from ``TURNOUT_SECRET_KEY``: 32 bytes as 64 hex digits or base64, or any
passphrase of at least 32 characters (stretched with HKDF-SHA256; it must carry 256 bits of
entropy on its own, since HKDF does not slow guessing). Generate one with
``python -c "import secrets; print(secrets.token_hex(32))"``.

Several keys, newest first and separated by commas, let a key be rotated without downtime:
the newest seals, every listed key opens what it sealed (``turnout secrets rotate``
re-seals the stored values under the newest, after which the old key can be dropped). A
passphrase containing a comma is still read as one key when the pieces are not all keys.

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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

# cryptography's Rust core costs ~6 MB of resident memory: imported when a key is used, so a
# gateway without TURNOUT_SECRET_KEY never loads it (docs/measurements.md#memory).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"turnout secret key v1"
        ).derive(text.encode())
    raise SecretKeyError(
        f"{ENV} must be 32 bytes (64 hex digits or base64) or a passphrase of 32+ characters"
    )


def key_id(key: bytes) -> str:
    """8 hex digits of the key's SHA-256: names a key without revealing it."""
    return hashlib.sha256(key).hexdigest()[:8]


def split_keys(text: str) -> list[str]:
    """The key texts of a ``TURNOUT_SECRET_KEY`` value, newest first: comma-separated keys,
    or the whole value when its pieces are not all keys (a passphrase with a comma)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 1 and all(parts):
        try:
            for part in parts:
                _decode_key(part)
        except SecretKeyError:
            return [text.strip()]
        return parts
    return [text.strip()]


def newest_text(text: str) -> str:
    """The newest key's text (what signs things that are not sealed: dashboard sessions)."""
    return split_keys(text)[0]


def sealed_key_id(sealed: str) -> str | None:
    """The key id a sealed value names, or None if it is not a sealed value."""
    parts = sealed.split(".", 2)
    return parts[1] if len(parts) == 3 and parts[0] == _VERSION else None


class SecretBox:
    """Seals with the newest key; opens with whichever listed key a value names."""

    def __init__(self, key: bytes | Sequence[bytes]) -> None:
        keys = [key] if isinstance(key, bytes) else list(key)
        if not keys:
            raise SecretKeyError(f"{ENV} names no key")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aeads: dict[str, AESGCM] = {}
        for k in keys:
            if len(k) != 32:
                raise SecretKeyError("AES-256 needs a 32-byte key")
            self._aeads.setdefault(key_id(k), AESGCM(k))
        self.key_id = key_id(keys[0])
        self.key_ids: tuple[str, ...] = tuple(self._aeads)

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id!r}, keys={len(self.key_ids)})"

    @classmethod
    def from_text(cls, text: str) -> SecretBox:
        return cls([_decode_key(part) for part in split_keys(text)])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SecretBox | None:
        text = environ.get(ENV)
        return cls.from_text(text) if text and text.strip() else None

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aeads[self.key_id].encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self.key_id}.{body}"

    def current(self, sealed: str) -> bool:
        """Whether ``sealed`` is already under the newest key (rotation skips it)."""
        return sealed_key_id(sealed) == self.key_id

    def reseal(self, sealed: str, context: str) -> str:
        """The same plaintext sealed again under the newest key."""
        return self.seal(self.open(sealed, context), context)

    def open(self, sealed: str, context: str) -> str:
        try:
            version, kid, body = sealed.split(".", 2)
        except ValueError:
            raise SecretKeyError("not a sealed value") from None
        if version != _VERSION:
            raise SecretKeyError(f"unknown sealed format {version!r}")
        aead = self._aeads.get(kid)
        if aead is None:
            known = ", ".join(self.key_ids)
            raise SecretKeyError(
                f"sealed with another {ENV} (key id {kid}; this process has {known})"
            )
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise SecretKeyError("sealed value is corrupt") from None
        if len(raw) < _NONCE + 16:  # a nonce and a tag at least
            raise SecretKeyError("sealed value is corrupt")
        from cryptography.exceptions import InvalidTag

        try:
            return aead.decrypt(raw[:_NONCE], raw[_NONCE:], context.encode()).decode()
        except InvalidTag:
            raise SecretKeyError("sealed value was tampered with or moved") from None
