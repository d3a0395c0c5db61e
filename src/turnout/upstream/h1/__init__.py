"""A minimal pooled HTTP/1.1 client on asyncio Protocols and llhttp (httptools).

Chosen by measurement over aiohttp, httpx, aiosonic and pyreqwest (docs/measurements.md): the
upstream hop is the largest cost a proxy adds, and this client spends about a third of
aiohttp's CPU per request.
"""

from turnout.upstream.h1.pool import Connector, Pool, PoolTimeout
from turnout.upstream.h1.response import ConnectionClosedError, Response, UpstreamError

__all__ = ["ConnectionClosedError", "Connector", "Pool", "PoolTimeout", "Response", "UpstreamError"]
