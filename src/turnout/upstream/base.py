"""The upstream client port.

Providers depend on this small interface, not on a particular HTTP library, so the client can
be chosen by measurement (docs/measurements.md) and swapped without touching a provider.
Implementations map their library's exceptions to :class:`~turnout.errors.UpstreamUnavailable`
and :class:`~turnout.errors.UpstreamTimeout` at this one boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Egress:
    """How one provider's connections leave the gateway: its ``proxy``, TLS trust and identity,
    connection limit, and where its destination came from (which decides whether the outbound
    policy checks it). Built from the provider's config; hashable, so clients key pools on it.
    """

    proxy: str | None = None  # None: HTTPS_PROXY/HTTP_PROXY/NO_PROXY; "none": direct; or a URL
    ca_file: str | None = None  # PEM bundle trusted instead of the system's
    cert_file: str | None = None  # client certificate (mTLS), PEM
    key_file: str | None = None  # its private key (default: inside cert_file)
    verify: bool = True
    max_connections: int = 1024  # per origin and process
    pool_timeout: float = 10.0  # longest wait for a free connection at the limit
    origin: str = "config"  # config | admin | caller (turnout.outbound.Origin)


DEFAULT_EGRESS = Egress()


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    read: float  # the longest silence tolerated between two reads
    total: float | None = None  # the longest one attempt may take, stream included


class UpstreamResponse(Protocol):
    status: int
    headers: list[tuple[bytes, bytes]]  # lower-case names

    async def read(self) -> bytes:
        """The whole body; releases the connection to the pool."""
        ...

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive; the connection is released at the end."""
        ...

    def close(self) -> None:
        """Abandon the response (client went away, failover): the connection is not reused."""
        ...


class UpstreamClient(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeouts: Timeouts,
        egress: Egress = DEFAULT_EGRESS,
    ) -> UpstreamResponse: ...

    async def close(self) -> None: ...
