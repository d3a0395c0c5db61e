"""The authentication pipeline step, and the same check for the few raw routes outside it.

It is in the pipeline only while authentication is on (a master key is configured, or a key
was ever created); otherwise the gateway is open and pays nothing for this module. Per call:
find the presented key, one SHA-256, one dict lookup, an expiry and a memoised model check.
Error messages never repeat the presented key.
"""

from __future__ import annotations

import hashlib
import time

from turnout.auth.directory import Directory
from turnout.auth.objects import named_object, refusal
from turnout.auth.principal import MASTER, Principal
from turnout.auth.tokens import TwoKeys, presented, repeated, same
from turnout.errors import AuthenticationFailed, AuthUnavailable, PermissionDenied, UnknownKey
from turnout.types import Call, Handler, Reply

MISSING = (
    "Missing API key: send your Turnout key as 'Authorization: Bearer <key>' "
    "(or x-api-key, x-goog-api-key)."
)
INVALID = "Invalid API key."
NOT_LOADED = "Gateway keys are not loaded yet; retry shortly."
TWO_KEYS = "Two different API keys in {} of one request: send one."


def one_key(raw: list[tuple[bytes, bytes]], headers: dict[bytes, bytes]) -> None:
    """Refuse a request carrying a credential header twice with different values (its header
    dict, ``headers``, kept only the last line; see :func:`turnout.auth.tokens.repeated`)."""
    if len(raw) != len(headers) and (where := repeated(raw)) is not None:
        raise AuthenticationFailed(TWO_KEYS.format(where))


class AuthStep:
    def __init__(self, directory: Directory, master: bytes | None) -> None:
        self.directory = directory
        self.master = master  # SHA-256 of the master key
        # auth.account_objects: whether keys may name objects of the shared provider
        # account (turnout.auth.objects); set from the config at start and at every reload.
        self.account_objects = False

    def identify(self, headers: dict[bytes, bytes], query: bytes) -> Principal:
        try:
            secret = presented(headers, query)
        except TwoKeys as exc:
            raise AuthenticationFailed(TWO_KEYS.format(exc.where)) from None
        if secret is None:
            raise AuthenticationFailed(MISSING)
        d = hashlib.sha256(secret).digest()
        principal = self.directory.by_digest.get(d)
        if principal is None:
            if self.master is not None and same(d, self.master):
                return MASTER
            if not self.directory.loaded:
                raise AuthUnavailable(NOT_LOADED, retry_after=1)
            raise UnknownKey(INVALID)
        if principal.expires is not None and principal.expires <= time.time():
            raise AuthenticationFailed("This API key has expired.")
        return principal

    async def __call__(self, call: Call, next: Handler) -> Reply:
        principal = call.identified or self.identify(call.headers, call.query)
        call.key_id = principal.id
        call.team = principal.team
        if not principal.allows(call.model):  # logged under the key that tried
            raise PermissionDenied(f"This API key may not use the model '{call.model}'.")
        if not self.account_objects and principal is not MASTER:
            field = named_object(call.body, call.data)
            if field is not None:
                raise refusal(field)
        call.principal = principal
        return await next(call)
