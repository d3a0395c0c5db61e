"""structlog, loaded with ``rich`` hidden: every module of the gateway imports it from here.

When rich is installed (typer brings it), structlog imports it and pygments at import time for
prettier console tracebacks: about 7 MB of every gateway process (scripts/rss_report.py) for
nothing the gateway prints; its console lines fall back to plain tracebacks. The CLI still
imports rich itself when it needs it. tests/integration/test_lean_start.py fails if a gateway
process loads rich again.
"""

from __future__ import annotations

import sys


def _load() -> None:
    if "structlog" in sys.modules:
        return
    hidden = sys.modules.get("rich")
    sys.modules["rich"] = None  # type: ignore[assignment]  # makes `import rich` fail
    try:
        import structlog.dev  # noqa: F401
    finally:
        if hidden is None:
            del sys.modules["rich"]
        else:
            sys.modules["rich"] = hidden


_load()

import structlog  # noqa: E402

__all__ = ["structlog"]
