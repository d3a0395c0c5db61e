"""Requests about a response an OpenAI account holds, sent to that account.

A response the gateway passed through to an OpenAI deployment lives at that deployment's
account, reachable only with the key that created it; the conversation step pinned both (a
record with ``deployment`` and ``key_id``, owned by the caller's gateway key). ``GET``,
``DELETE``, ``input_items`` and ``cancel`` for it go to the same deployment with the same key,
with nothing of the client's request but the checked id, the listing parameters and the
headers the provider forwards anyway (``forward_headers``); the answer is relayed as it came.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from turnout.conversations.store import Record
from turnout.errors import NotFound
from turnout.health.targets import KeyHealth
from turnout.providers.base import HTTPProvider, Provider, send_direct
from turnout.types import Call, Reply


@dataclass(slots=True)
class Holders:
    """Finds the provider and key behind a pin in the serving configuration (after a reload,
    a removed provider or key no longer reaches anything: the response is gone for us)."""

    providers: Callable[[], Mapping[str, Provider]]
    keys: Callable[[], Iterable[KeyHealth]]

    def find(self, record: Record) -> tuple[HTTPProvider, str]:
        assert record.deployment is not None and record.key_id is not None
        name = record.deployment.split("/", 1)[0]
        provider = self.providers().get(name)
        if isinstance(provider, HTTPProvider):
            for key in self.keys():
                if key.provider == name and key.fingerprint == record.key_id:
                    return provider, key.secret
        raise NotFound(f"No response found with id '{record.id}'.")


async def forward(
    provider: HTTPProvider,
    secret: str,
    method: str,
    path: str,
    request_id: str,
    client_headers: Mapping[bytes, bytes],
) -> Reply:
    """One request to the holder (``path`` under its base URL, query included), with the
    headers the provider sends on every request (its own header policy, one place)."""
    call = Call("responses", "stored", "", b"", {}, False, dict(client_headers), request_id, 0.0)
    headers = provider.request_headers(call, secret)
    body = b"{}" if method == "POST" else b""
    # Relayed as it came, but never with the key it was sent with (an echo of it, keymask).
    return await send_direct(provider, secret, method, path, headers, body, False)
