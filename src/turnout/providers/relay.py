"""What the gateway accepts from an upstream before relaying or translating it.

Two checks at the edge of every provider, written against the upstream client *port*
(:mod:`turnout.upstream.base`) so they hold whatever client sits behind it:

- the status must be a final HTTP status (200-599): a ``999`` used to leave the client with an
  empty reply (the server cannot write it) and a ``1xx`` is not an answer;
- a body read whole may be at most ``providers.<name>.max_response_bytes`` (0: no cap): a
  50 MB answer used to be held in memory several times over while it was relayed or
  translated. Streams are relayed chunk by chunk and never held whole; their parsers bound one
  event instead (:data:`turnout.protocols.sse.MAX_EVENT_BYTES`).

Either failure is an :class:`~turnout.errors.UpstreamInvalid` (502 in the client's protocol,
retryable, so routing fails over) and one warning log line with the provider and the reason.

What an answer must not carry out, the provider key it was sent with, is masked by
:mod:`turnout.providers.keymask` (re-exported here: :func:`without_key`).
"""

from __future__ import annotations

from turnout.errors import UpstreamInvalid
from turnout.observability.logging import get_logger
from turnout.providers.keymask import without_key
from turnout.upstream.base import UpstreamResponse

log = get_logger("turnout.upstream")


def invalid(provider: str, reason: str) -> UpstreamInvalid:
    """The error for an upstream answer that is not one, logged once with its reason."""
    log.warning("upstream answer rejected", provider=provider, reason=reason)
    return UpstreamInvalid(f"upstream {provider} sent an invalid answer: {reason}")


def check_status(resp: UpstreamResponse, provider: str) -> None:
    """A status outside 200-599, or a redirect, is the upstream's failure (502, failover).

    A 3xx is never relayed: the official SDKs follow redirects, resolving a relative
    ``Location`` against the gateway's address and sending the client's key again, so an
    upstream's ``307 Location: /admin/...`` would send an admin's call to the admin API. Nor
    can a client act on it (its base URL is the gateway's); the usual cause is a provider's
    ``base_url`` on the wrong scheme or host, which the log line says."""
    status = resp.status
    if 300 <= status < 400:
        resp.close()
        raise invalid(
            provider,
            f"HTTP status {status} is a redirect, which the gateway does not follow "
            "(check the provider's base_url: scheme, host and path)",
        )
    if not 200 <= status <= 599:
        resp.close()
        raise invalid(provider, f"HTTP status {status} is not a final status (200-599)")


async def read_body(resp: UpstreamResponse, cap: int, provider: str) -> bytes:
    """The whole body, at most ``cap`` bytes (0: any size); the connection is dropped as soon
    as the body is known to be larger."""
    if not cap:
        return await resp.read()
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.iter_chunks():
        size += len(chunk)
        if size > cap:
            resp.close()
            raise invalid(
                provider,
                f"body larger than max_response_bytes ({cap} bytes; "
                f"providers.{provider}.max_response_bytes)",
            )
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)  # b"" when there were none


__all__ = ["check_status", "invalid", "read_body", "without_key"]
