"""Mock LLM provider speaking the OpenAI, Anthropic Messages and Gemini wire formats.

Out of process: ``serve()`` / ``python -m turnout.mock``. In process (the gateway's
``mock`` provider, no socket): ``respond()`` then ``read_body()`` or ``iter_frames()``.
See :mod:`turnout.mock.engine` for the contract.
"""

from turnout.mock.engine import MockResponse, respond
from turnout.mock.server import MockServer, serve, start_mock_server, start_server
from turnout.mock.settings import FAULTS, Fault, MockSettings, SettingsError
from turnout.mock.stats import MockStats
from turnout.mock.timing import MockDisconnect, iter_frames, read_body

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
