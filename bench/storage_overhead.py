"""Throughput with and without the request log, measured in one run (helper of storage_bench).

The gateway is pinned alone to core 0; the fast fake upstream (bench/candidates/upstream.py)
and wrk share core 1. Each variant is the same config but for its ``storage``, ``metrics``
and ``logging.requests`` sections; wrk runs non-stream and stream requests at 64 connections.
The report prints, per variant, the median over interleaved rounds of requests/s and of the
gateway's own CPU time per request (user + system, from /proc: steadier than requests/s on a
shared machine), each with its ratio to the variant with everything off.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
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


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class LoadError(RuntimeError):
    pass


def _wrk(port: int, lua: Path, seconds: int) -> tuple[float, int]:
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
        raise LoadError(f"errors under load:\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    assert rate and total, out
    return float(rate.group(1)), int(total.group(1))


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
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
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
                        "turnout.cli.main",
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
                    env={**os.environ, "TURNOUT_DATABASE_URL": ""},
                )
                try:
                    _wait(port)
                    for mode, lua in luas.items():
                        _wrk(port, lua, 1)  # warm up
                        before = _cpu(gw.pid)
                        rate, total = _wrk(port, lua, seconds)
                        cpu_us = (_cpu(gw.pid) - before) / total * 1e6
                        results.setdefault(name, {}).setdefault(mode, []).append((rate, cpu_us))
                except LoadError:
                    log.flush()
                    print(f"{name}: gateway output:\n{(work / 'out.log').read_text()[-3000:]}")
                    raise
                finally:
                    gw.send_signal(signal.SIGTERM)
                    gw.wait(30)
                    log.close()
    finally:
        upstream.kill()
        upstream.wait()
    base = {mode: _median(runs) for mode, runs in results["all off"].items()}
    print(f"\ngateway on one core, wrk -c64, {seconds} s per run, median of {rounds} rounds")
    print(f"{'variant':<36} {'mode':<11} {'req/s':>8} {'ratio':>6} {'CPU us/req':>11} {'ratio':>6}")
    for name, modes in results.items():
        for mode, runs in modes.items():
            rate, cpu_us = _median(runs)
            print(
                f"{name:<36} {mode:<11} {rate:>8,.0f} {rate / base[mode][0]:>6.3f} "
                f"{cpu_us:>11.1f} {cpu_us / base[mode][1]:>6.3f}"
            )


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r for r, _ in runs), statistics.median(c for _, c in runs)
