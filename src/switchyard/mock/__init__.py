"""Mock LLM provider speaking the OpenAI, Anthropic Messages and Gemini wire formats.

Out of process: ``serve()`` / ``python -m switchyard.mock``. In process (the gateway's
``mock`` provider, no socket): ``respond()`` then ``read_body()`` or ``iter_frames()``.
See :mod:`switchyard.mock.engine` for the contract.
"""

from switchyard.mock.engine import MockResponse, respond
from switchyard.mock.server import MockServer, serve, start_mock_server, start_server
from switchyard.mock.settings import FAULTS, Fault, MockSettings, SettingsError
from switchyard.mock.stats import MockStats
from switchyard.mock.timing import MockDisconnect, iter_frames, read_body

__all__ = [
    "FAULTS",
    "Fault",
    "MockDisconnect",
    "MockResponse",
    "MockServer",
    "MockSettings",
    "MockStats",
    "SettingsError",
    "iter_frames",
    "read_body",
    "respond",
    "serve",
    "start_mock_server",
    "start_server",
]
