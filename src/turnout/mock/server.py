"""Running the mock provider as a server process or inside a test's event loop.

The per-connection HTTP work lives in :mod:`turnout.mock.connection`; this module only
binds sockets, hands out :class:`MockServer` handles and runs the loop for the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl as _ssl
from dataclasses import dataclass

from turnout.mock.clouds import CloudAuth
from turnout.mock.connection import Connection, ServerState
from turnout.mock.engine import DEFAULT_SETTINGS
from turnout.mock.settings import MockSettings
from turnout.mock.stats import MockStats


@dataclass(slots=True)
class MockServer:
    """A running mock server: its port, its counters, and a close that drops connections."""

    server: asyncio.Server
    stats: MockStats
    _shared: ServerState

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = self.server.sockets[0].getsockname()[0]
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        self.server.close()
        for conn in list(self._shared.connections):
            conn.abort()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.server.wait_closed(), 2)


async def start_mock_server(
    host: str = "127.0.0.1",
    port: int = 0,
    settings: MockSettings = DEFAULT_SETTINGS,
    *,
    reuse_port: bool = False,
    ssl: _ssl.SSLContext | None = None,
    clouds: CloudAuth | None = None,
) -> MockServer:
    """Listen on ``host:port`` (0 picks a free port) in the running loop; over TLS with
    ``ssl`` (tests of private CAs and client certificates); ``clouds``: the credentials the
    cloud routes check (:mod:`turnout.mock.clouds`)."""
    shared = ServerState(settings, clouds=clouds)
    server = await asyncio.get_running_loop().create_server(
        lambda: Connection(shared),
        host,
        port,
        backlog=4096,
        reuse_port=reuse_port or None,
        ssl=ssl,
    )
    return MockServer(server, shared.stats, shared)


async def start_server(
    host: str = "127.0.0.1", port: int = 0, settings: MockSettings = DEFAULT_SETTINGS
) -> asyncio.Server:
    """Like :func:`start_mock_server` for callers that only want the ``asyncio.Server``."""
    return (await start_mock_server(host, port, settings)).server


async def _serve_until_signalled(
    host: str,
    port: int,
    settings: MockSettings,
    ssl: _ssl.SSLContext | None,
    clouds: CloudAuth | None = None,
) -> None:
    mock = await start_mock_server(host, port, settings, ssl=ssl, clouds=clouds)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without loop signal support
    scheme = "https" if ssl is not None else "http"
    print(f"turnout mock listening on {scheme}://{host}:{mock.port}", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await mock.close()


def serve(
    host: str = "127.0.0.1",
    port: int = 9001,
    settings: MockSettings = DEFAULT_SETTINGS,
    ssl: _ssl.SSLContext | None = None,
    clouds: CloudAuth | None = None,
) -> None:
    """Run the mock until SIGINT/SIGTERM; uses uvloop when it is installed."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on supported platforms
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve_until_signalled(host, port, settings, ssl, clouds))
