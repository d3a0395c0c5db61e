"""Throughput with and without the request log, measured in one run (helper of storage_bench).

The gateway is pinned alone to core 0; the fast fake upstream (bench/candidates/upstream.py)
and wrk share core 1. Each variant is the same config but for its ``storage``, ``metrics``
and ``logging.requests`` sections; wrk runs non-stream and stream requests at 64 connections,
and the report prints requests/s and the ratio to the variant with everything off.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE / "candidates" / "upstream.py"
GATEWAY_CORE, LOAD_CORE = "0", "1"
LUA = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
"""
BODIES = {
    "non-stream": '{"model":"bench","messages":[{"role":"user","content":"hi"}]}',
    "stream": '{"model":"bench","stream":true,"messages":[{"role":"user","content":"hi"}]}',
}
OFF = {"storage": {"enabled": False}, "metrics": {"enabled": False}, "logging": {"requests": False}}
VARIANTS: dict[str, dict[str, Any]] = {
    "all off": OFF,
    "stdout lines + metrics": {**OFF, "metrics": {"enabled": True}, "logging": {"requests": True}},
    "SQLite rows + metrics + stdout": {"logging": {"requests": True}},
    "PostgreSQL rows + metrics + stdout": {"logging": {"requests": True}, "storage": {"url": "PG"}},
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def _wrk(port: int, lua: Path, seconds: int) -> float:
    cmd = [
        "taskset",
        "-c",
        LOAD_CORE,
        "wrk",
        "-t1",
        "-c64",
        f"-d{seconds}s",
        "-s",
        str(lua),
        f"http://127.0.0.1:{port}/v1/chat/completions",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors under load:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def run(seconds: int, pg_url: str | None, rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sy-overhead-"))
    luas = {}
    for mode, body in BODIES.items():
        luas[mode] = tmp / f"{mode}.lua"
        luas[mode].write_text(LUA.format(body=body))
    up_port = _port()
    upstream = subprocess.Popen(
        ["taskset", "-c", LOAD_CORE, sys.executable, str(UPSTREAM), "--port", str(up_port)]
    )
    _wait(up_port)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for _ in range(rounds):  # interleaved rounds: drift on a shared machine hits all alike
            for name, extra in VARIANTS.items():
                if "PG" in str(extra) and pg_url is None:
                    continue
                cfg = {
                    "providers": {
                        "up": {
                            "type": "openai-compatible",
                            "base_url": f"http://127.0.0.1:{up_port}/v1",
                            "api_keys": ["sk-bench"],
                        }
                    },
                    "models": {
                        "bench": {"deployments": [{"provider": "up", "model": "gpt-4o-mini"}]}
                    },
                    **extra,
                }
                if pg_url is not None and cfg.get("storage", {}).get("url") == "PG":
                    cfg["storage"] = {"url": pg_url}
                work = Path(tempfile.mkdtemp(dir=tmp))
                (work / "gw.yaml").write_text(yaml.safe_dump(cfg))
                port = _port()
                log = (work / "out.log").open("wb")
                gw = subprocess.Popen(
                    [
                        "taskset",
                        "-c",
                        GATEWAY_CORE,
                        sys.executable,
                        "-m",
                        "switchyard.cli.main",
                        "serve",
                        "-c",
                        "gw.yaml",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                    ],
                    cwd=work,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "SWITCHYARD_DATABASE_URL": ""},
                )
                try:
                    _wait(port)
                    for mode, lua in luas.items():
                        _wrk(port, lua, 1)  # warm up
                        rate = _wrk(port, lua, seconds)
                        results.setdefault(name, {}).setdefault(mode, []).append(rate)
                finally:
                    gw.send_signal(signal.SIGTERM)
                    gw.wait(30)
                    log.close()
    finally:
        upstream.kill()
        upstream.wait()
    base = results["all off"]
    print(f"\nthroughput, gateway on one core, wrk -c64, {seconds}s x {rounds} rounds (best)")
    print(
        f"{'variant':<36} {'non-stream req/s':>17} {'ratio':>7} {'stream req/s':>13} {'ratio':>7}"
    )
    for name, modes in results.items():
        ns, st = max(modes["non-stream"]), max(modes["stream"])
        print(
            f"{name:<36} {ns:>17,.0f} {ns / max(base['non-stream']):>7.3f} "
            f"{st:>13,.0f} {st / max(base['stream']):>7.3f}"
        )
