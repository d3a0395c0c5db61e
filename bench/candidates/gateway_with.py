"""Run ``turnout serve`` with a library client in place of the gateway's own pool.

    BENCH_CLIENT=pyreqwest python bench/candidates/gateway_with.py serve -c cfg.yaml --port N

``BENCH_CLIENT=custom`` (or unset) runs the gateway unchanged. Used by bench/client_bench.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

kind = os.environ.get("BENCH_CLIENT", "custom")
if kind != "custom":
    import port_clients

    import turnout.app

    turnout.app.PooledClient = port_clients.KINDS[kind]  # type: ignore[misc,assignment]

from turnout.cli.main import app  # noqa: E402

app()
