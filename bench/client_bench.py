"""Which upstream HTTP client the gateway should use, measured inside the whole gateway.

The gateway (``turnout serve``, one process, alone on core 0) talks to a fast fake upstream
(``candidates/upstream.py``, core 1) over **TLS** with a private CA, as it talks to every real
provider; wrk (core 1) drives it over plain HTTP at c=64. For each client — the gateway's own
pool (``custom``), aiohttp, pyreqwest and httpx, each behind the gateway's client port
(``candidates/port_clients.py``) — it records the gateway's CPU time per request (utime+stime of
its process tree / requests completed), for non-stream replies and 20-frame streams.

Candidates run back to back inside each round, and the rounds repeat (``--rounds``), so a
disturbance from other work on the machine hits one round, not one candidate; the report gives
the median and the min-max spread per candidate, and each library's median against the custom
client's. ``--config defaults`` keeps the request log (stdout line + SQLite) on, ``quiet``
turns it and storage off (the request path alone); ``--scheme http`` drops TLS for comparison.

    uv run --group bench python bench/client_bench.py                      # ~15 min
    uv run --group bench python bench/client_bench.py --rounds 1 --only custom,pyreqwest
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.support.certs: the test suite's private CA
_spec = importlib.util.spec_from_file_location("cand", HERE / "candidates" / "run.py")
assert _spec is not None and _spec.loader is not None
cand: Any = importlib.util.module_from_spec(_spec)
sys.modules["cand"] = cand
_spec.loader.exec_module(cand)

from tests.support.certs import TestCA  # noqa: E402

PY = sys.executable
SERVER_CORE, LOAD_CORE = "0", "1"
UP_PORT, GW_PORT = 18300, 18380
CLIENTS = ("custom", "aiohttp", "pyreqwest", "httpx")


def gateway_config(tmp: Path, scheme: str, config: str) -> Path:
    host = "localhost" if scheme == "https" else "127.0.0.1"
    cfg: dict[str, Any] = {
        "providers": {
            "up": {
                "type": "openai-compatible",
                "base_url": f"{scheme}://{host}:{UP_PORT}/v1",
                "api_keys": ["sk-bench"],
            }
        },
        "models": {"*": {"deployments": [{"provider": "up"}]}},
    }
    if config == "quiet":
        cfg["logging"] = {"level": "warning", "requests": False}
        cfg["storage"] = {"enabled": False}
    else:
        cfg["storage"] = {"url": str(tmp / f"{scheme}-{config}.db")}
    path = tmp / f"{scheme}-{config}.yaml"
    path.write_text(json.dumps(cfg))
    return path


def measure(client: str, cfg: Path, tmp: Path, a: argparse.Namespace, ca: Path) -> dict[str, Any]:
    cand.wait_quiet(a.quiet, a.quiet_wait)
    cand.wait_port_free(GW_PORT)
    cmd = [PY, str(HERE / "candidates" / "gateway_with.py"), "serve", "-c", str(cfg)]
    cmd += ["--port", str(GW_PORT)]
    env = {"BENCH_CLIENT": client, "SSL_CERT_FILE": str(ca)}
    log = tmp / f"{client}.log"
    with open(log, "ab") as out:
        import subprocess

        proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *cmd],
            cwd=tmp,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    out_data: dict[str, Any] = {}
    try:
        cand.wait_port(GW_PORT, 30)
        chk = cand.c1(GW_PORT, 5, 2)
        out_data["relay_ok"] = b"chat.completion" in chk["ns"]["body"] and (
            b"[DONE]" in chk["st"]["body"]
        )
        for mode in ("ns", "st"):
            cand.wrk(GW_PORT, a.lua[mode], 64, 1)  # warm-up: connections, caches, TLS sessions
            c0 = cand.cpu_seconds(proc.pid)
            w = cand.wrk(GW_PORT, a.lua[mode], 64, a.duration)
            used = cand.cpu_seconds(proc.pid) - c0
            out_data[mode] = {
                "cpu_us_per_req": used / max(1, w["requests"]) * 1e6,
                "rps": w["rps"],
                "errors": w["errors"] + w["status_errors"],
                "requests": w["requests"],
            }
    finally:
        cand.stop(proc)
    return out_data


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for client, rs in runs.items():
        s: dict[str, Any] = {}
        for mode in ("ns", "st"):
            vals = [r[mode]["cpu_us_per_req"] for r in rs if mode in r]
            if vals:
                s[mode] = (statistics.median(vals), min(vals), max(vals))
        s["errors"] = sum(r[m]["errors"] for r in rs for m in ("ns", "st") if m in r)
        s["relay_ok"] = all(r.get("relay_ok") for r in rs)
        out[client] = s
    return out


def table(title: str, summary: dict[str, dict[str, Any]]) -> str:
    base = summary.get("custom", {})
    rows = [
        f"**{title}**",
        "",
        "| client | non-stream CPU µs/req median (min-max) | vs custom | stream CPU µs/req "
        "median (min-max) | vs custom | errors |",
        "|---|---|---|---|---|---|",
    ]
    for client, s in summary.items():
        cells = [client]
        for mode in ("ns", "st"):
            if mode not in s:
                cells += ["", ""]
                continue
            med, lo, hi = s[mode]
            cells.append(f"{med:.0f} ({lo:.0f}-{hi:.0f})")
            ref = base.get(mode)
            cells.append(f"{med / ref[0] - 1:+.0%}" if ref and client != "custom" else "—")
        cells.append(str(s["errors"]))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", default=",".join(CLIENTS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--scheme", default="https,http", help="https, http or both")
    ap.add_argument("--config", default="quiet,defaults", help="quiet, defaults or both")
    ap.add_argument("--quiet", type=float, default=0.3, help="max machine load before a run")
    ap.add_argument("--quiet-wait", type=float, default=5)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "clients.json")
    a = ap.parse_args()
    clients = a.only.split(",")
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    started = time.monotonic()
    report: list[str] = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="turnout-clients-") as td:
        tmp = Path(td)
        ca = TestCA(tmp / "ca")
        leaf = ca.server("localhost", "127.0.0.1")
        a.lua = {}
        for mode, body in (("ns", cand.BODY), ("st", cand.BODY_STREAM)):
            a.lua[mode] = tmp / f"{mode}.lua"
            a.lua[mode].write_text(cand.LUA.format(body=body.decode()))
        for scheme in a.scheme.split(","):
            up_cmd = [PY, str(HERE / "candidates" / "upstream.py"), "--port", str(UP_PORT)]
            if scheme == "https":
                up_cmd += ["--tls-cert", str(leaf.cert), "--tls-key", str(leaf.key)]
            cand.wait_port_free(UP_PORT)
            upstream = cand.start(up_cmd, LOAD_CORE, tmp / "upstream.log")
            try:
                cand.wait_port(UP_PORT)
                configs = a.config.split(",") if scheme == "https" else ["quiet"]
                for config in configs:
                    cfg = gateway_config(tmp, scheme, config)
                    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
                    for rnd in range(a.rounds):
                        for client in clients:
                            d = measure(client, cfg, tmp, a, ca.cert)
                            runs[client].append(d)
                            print(
                                f"{scheme:5s} {config:8s} round {rnd + 1} {client:10s} "
                                f"ns {d['ns']['cpu_us_per_req']:7.0f} µs "
                                f"({d['ns']['rps']:7,.0f}/s)  st {d['st']['cpu_us_per_req']:7.0f}"
                                f" µs ({d['st']['rps']:6,.0f}/s)  errors "
                                f"{d['ns']['errors'] + d['st']['errors']}",
                                flush=True,
                            )
                    key = f"{scheme}-{config}"
                    results[key] = {"runs": runs, "summary": summarise(runs)}
                    title = (
                        f"{scheme.upper()} upstream, gateway {config} "
                        f"({a.rounds} rounds x {a.duration} s, c=64)"
                    )
                    report.append(table(title, results[key]["summary"]))
            finally:
                cand.stop(upstream)
    print()
    print("\n\n".join(report))
    print(f"\ntotal {time.monotonic() - started:.0f}s")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(results, indent=1, default=str))
    print(f"wrote {a.json}")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
