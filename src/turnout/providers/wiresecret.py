"""Masking the credential a cloud provider put on the wire, in whatever the upstream answers.

The router masks the pool entry an attempt was sent with (:mod:`turnout.providers.keymask`),
which for an OpenAI key is the very string sent upstream. A cloud provider sends something
else: Bedrock a SigV4 signature and, with temporary credentials, the session token itself
(``x-amz-security-token``); Vertex AI and Azure with Entra ID a bearer token fetched from the
pool entry. An upstream (or a proxy, or a debug server in front of it) that echoes the request's
headers would hand that token to the client, and a session or bearer token is as good as the
key for its lifetime. So each of those providers wraps its answer in :class:`Masked`, which
masks every copy of the credential it sent in the answer's headers, its body and each chunk of
a stream (a copy split across two chunks too), as the router does for keys.

Only the answer the client reads is masked (after Bedrock's answers are re-shaped, so a token
the upstream quoted in an error message is caught where the client would see it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from turnout.providers.keymask import MASKED, key_bytes, masked_headers, scrub
from turnout.upstream.base import UpstreamResponse


class Masked:
    """``resp`` with every copy of ``secret`` masked (an upstream response itself)."""

    __slots__ = ("_raw", "_resp", "headers", "status")

    def __init__(self, resp: UpstreamResponse, raw: bytes) -> None:
        self._resp = resp
        self._raw = raw
        self.status = resp.status
        self.headers = masked_headers(resp.headers, raw)

    async def read(self) -> bytes:
        body = await self._resp.read()
        return body.replace(self._raw, MASKED) if self._raw in body else body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        chunks = self._resp.iter_chunks()
        held = b""
        try:
            async for chunk in chunks:
                out, held = scrub(held + chunk, self._raw)
                if out:
                    yield out
            if held:  # the end: what was held was no secret after all
                yield held
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    def close(self) -> None:
        self._resp.close()


def masked(resp: UpstreamResponse, secret: str | None) -> UpstreamResponse:
    """``resp`` masked for ``secret``; ``resp`` itself when there is none (or it is too short
    to search for without masking ordinary words)."""
    raw = key_bytes(secret) if secret else None
    return resp if raw is None else Masked(resp, raw)


__all__ = ["Masked", "masked"]
