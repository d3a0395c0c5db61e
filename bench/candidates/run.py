"""Benchmark driver for the Turnout proxy candidates.

Layout (2-core box): the proxy under test is pinned alone to core 0; the fake upstream,
wrk and this driver (incl. its c=1 latency client) share core 1.

For every candidate:
  1. wait (bounded) for the machine to be quiet, start it (taskset -c 0), check that it
     relays the upstream's bytes exactly (non-stream and stream);
  2. warm up (wrk 1 s non-stream + 1 s stream at c=64);
  3. wrk -t1 -c64 -d<D>s for three modes: non-stream, stream (20 SSE frames written back to
     back) and paced stream (same frames 1 ms apart, like tokens): req/s, p50, p99, and the
     proxy's CPU time per request ((utime+stime) delta of its process tree / requests),
     its core-0 utilisation and the core-0 load of *other* processes during the run;
  4. wrk -t1 -c1 -d<D1>s non-stream and stream: p50 full-response latency;
  5. raw asyncio+httptools client, c=1, keep-alive, N requests per mode: p50 of the
     complete non-stream response and of a stream's time to first body byte (TTFB);
  6. peak RSS (VmHWM summed over the process tree).
"direct" is the upstream itself (no proxy); "nginx" a plain nginx reverse proxy.

    uv run --group bench python bench/candidates/run.py            # default matrix (~5 min)
    uv run --group bench python bench/candidates/run.py --matrix full
    uv run --group bench python bench/candidates/run.py --only nginx,granian-rsgi+custom
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httptools
import uvloop

HERE = Path(__file__).resolve().parent
PY = sys.executable
PROXY_CORE, LOAD_CORE = "0", "1"
UP_PORT, PROXY_PORT = 18000, 18080
PATH = "/v1/chat/completions"
CLK_TCK = os.sysconf("SC_CLK_TCK")

BODY = (
    b'{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful '
    b'assistant."},{"role":"user","content":"Say hello in one short sentence, please."}],'
    b'"temperature":0.2,"max_tokens":64}'
)
BODY_STREAM = BODY[:-1] + b',"stream":true}'
BODY_PACED = BODY[:-1] + b',"stream":true,"bench_pace":true}'  # upstream: 1 ms between frames
MODES = ("ns", "st", "sp")  # non-stream, stream (frames back to back), paced stream

SERVERS = ["granian-rsgi", "granian-asgi", "uvicorn", "aiohttp"]
CLIENTS = ["custom", "aiohttp", "httpx", "aiosonic", "pyreqwest"]
BEST_SERVER = "granian-rsgi"  # chosen from a --matrix full run (see docs/measurements.md)
BEST_CLIENT = "custom"


def default_matrix() -> list[str]:
    """All clients behind the best server; every server with the best client (custom)."""
    names = ["direct", "nginx", "aiohttp+aiohttp"]  # aiohttp+aiohttp: naive calibration point
    names += [f"{BEST_SERVER}+{c}" for c in CLIENTS]
    names += [f"{s}+{BEST_CLIENT}" for s in SERVERS if s != BEST_SERVER]
    return names


def full_matrix() -> list[str]:
    return ["direct", "nginx"] + [f"{s}+{c}" for s in SERVERS for c in CLIENTS]


# --------------------------------------------------------------------------- processes
def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def wait_port_free(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                pass
        except OSError:
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} still in use")


def start(
    cmd: list[str], core: str, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    with open(log, "ab") as f:  # never a pipe: a chatty child would block on a full pipe
        return subprocess.Popen(
            ["taskset", "-c", core, *cmd],
            env={**os.environ, **(env or {})},
            cwd=HERE,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(8)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the session we created for it
            p.wait()


def tree(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(st.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12])  # utime + stime (all threads)
    return total / CLK_TCK


def core_jiffies() -> dict[str, tuple[int, int]]:
    """Per-CPU (busy, total) jiffies from /proc/stat."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            f = line.split()
            v = [int(x) for x in f[1:9]]  # user nice system idle iowait irq softirq steal
            out[f[0]] = (sum(v) - v[3] - v[4], sum(v))
    return out


def busy_between(a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]]) -> dict[str, float]:
    return {k: (b[k][0] - a[k][0]) / max(1, b[k][1] - a[k][1]) for k in a}


def wait_quiet(limit: float, max_wait: float) -> float:
    """Wait (up to max_wait s) until both cores are < limit busy over 1 s; return last load."""
    deadline = time.monotonic() + max_wait
    while True:
        a = core_jiffies()
        time.sleep(1)
        load = max(busy_between(a, core_jiffies()).values())
        if load < limit or time.monotonic() > deadline:
            return load


def peak_rss_mb(pid: int) -> float:
    kb = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    kb += int(line.split()[1])
    return kb / 1024


# --------------------------------------------------------------------------- candidates
def nginx_conf(tmp: Path, port: int) -> Path:
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir(exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    upstream llm {{
        server 127.0.0.1:{UP_PORT};
        keepalive 256;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://llm;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""
    )
    return conf


def proxy_cmd(name: str, tmp: Path) -> tuple[list[str], dict[str, str]]:
    if name == "nginx":
        conf = nginx_conf(tmp, PROXY_PORT)
        return ["nginx", "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")], {}
    server, client = name.split("+")
    env = {"PROXY_CLIENT": client, "UPSTREAM": f"127.0.0.1:{UP_PORT}", "PORT": str(PROXY_PORT)}
    if server == "uvicorn":
        return [PY, "uvicorn_server.py"], env
    if server == "uvicorn-gw":
        return [PY, "uvicorn_server.py"], {
            **env,
            "HTTP_PROTOCOL": "turnout.server.protocol:GatewayProtocol",
        }
    if server == "aiohttp":
        return [PY, "aiohttp_server.py"], env
    if server == "raw":
        return [PY, "raw_server.py"], env
    if server.startswith("granian-"):
        iface = server.split("-")[1]
        # one worker, one runtime thread, single-threaded runtime, uvloop
        cmd = [PY, "-m", "granian", "--interface", iface, "--loop", "uvloop"]
        cmd += ["--workers", "1", "--runtime-threads", "1", "--runtime-mode", "st"]
        cmd += ["--http", "1", "--no-ws", "--backlog", "4096", "--no-access-log"]
        cmd += ["--log-level", "warning", "--host", "127.0.0.1", "--port", str(PROXY_PORT)]
        cmd += ["--working-dir", str(HERE), f"{iface}_proxy:app"]
        return cmd, env
    raise ValueError(name)


# --------------------------------------------------------------------------- wrk
LUA = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{{"requests":%d,"duration_us":%d,"errors":%d,"status_errors":%d,"p50_us":%d,"p99_us":%d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_script(path: Path, mode: str, key: str) -> Path:
    """wrk's script at ``path``: the benchmark's request (``mode`` ns: a chat completion, st:
    its 20-chunk stream) presenting ``key`` as a bearer token."""
    body = BODY if mode == "ns" else BODY_STREAM
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    path.write_text(LUA.format(body=body.decode()) + auth)
    return path


def wrk(port: int, lua: Path, conns: int, secs: int) -> dict[str, Any]:
    cmd = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{conns}", f"-d{secs}s"]
    cmd += ["--timeout", "5s", "-s", str(lua), f"http://127.0.0.1:{port}{PATH}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    res = json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1])
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


# --------------------------------------------------------------------------- c=1 client
class _C1(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.fut: asyncio.Future[None] | None = None
        self.t_first = self.t_done = 0.0
        self.body: list[bytes] = []

    def connection_made(self, t: asyncio.BaseTransport) -> None:
        self.t = t

    def data_received(self, d: bytes) -> None:
        self.parser.feed_data(d)

    def on_body(self, b: bytes) -> None:
        if not self.body:
            self.t_first = time.perf_counter()
        self.body.append(b)

    def on_message_complete(self) -> None:
        self.t_done = time.perf_counter()
        assert self.fut is not None
        self.fut.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.fut is not None and not self.fut.done():
            self.fut.set_exception(ConnectionError("closed"))


# Extra request header lines ("Name: value\r\n") the c=1 client sends, e.g. a gateway key.
EXTRA_HEADERS = ""


def _req(body: bytes) -> bytes:
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{EXTRA_HEADERS}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _c1(port: int, n: int, warm: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    _, p = await loop.create_connection(_C1, "127.0.0.1", port)
    out: dict[str, Any] = {}
    for mode, body in (("ns", BODY), ("st", BODY_STREAM)):
        raw = _req(body)
        ttfb, total, pieces = [], [], []
        for i in range(warm + n):
            p.body = []
            p.fut = loop.create_future()
            t0 = time.perf_counter()
            p.t.write(raw)
            await p.fut
            if i >= warm:
                ttfb.append(p.t_first - t0)
                total.append(p.t_done - t0)
                pieces.append(len(p.body))
        out[mode] = {
            "ttfb_p50_ms": statistics.median(ttfb) * 1e3,
            "total_p50_ms": statistics.median(total) * 1e3,
            "total_p99_ms": statistics.quantiles(total, n=100)[98] * 1e3,
            "ttfb_p99_ms": statistics.quantiles(ttfb, n=100)[98] * 1e3,
            "body_pieces_p50": statistics.median(pieces),
            "body": b"".join(p.body),
        }
    p.t.close()
    return out


def c1(port: int, n: int, warm: int = 200) -> dict[str, Any]:
    return uvloop.run(_c1(port, n, warm))


# --------------------------------------------------------------------------- driver
@dataclass
class Result:
    name: str
    data: dict[str, Any] = field(default_factory=dict)


def measure(name: str, tmp: Path, a: argparse.Namespace, ref: dict[str, bytes] | None) -> Result:
    r = Result(name)
    proc = None
    port = UP_PORT
    r.data["idle_load_before"] = wait_quiet(a.quiet, a.quiet_wait)
    if name != "direct":
        wait_port_free(PROXY_PORT)
        cmd, env = proxy_cmd(name, tmp)
        log = tmp / f"{name}.log"
        proc = start(cmd, PROXY_CORE, log, env)
        wait_port(PROXY_PORT)
        port = PROXY_PORT
    try:
        chk = c1(port, 20, 5)
        if ref is not None:
            ok = chk["ns"]["body"] == ref["ns"] and chk["st"]["body"] == ref["st"]
            r.data["relay_exact"] = ok
            if not ok:
                print(f"  !! {name}: relayed body differs from the upstream's", flush=True)
        else:
            r.data["ref"] = {"ns": chk["ns"]["body"], "st": chk["st"]["body"]}
        wrk(port, a.lua["ns"], 64, 1)
        wrk(port, a.lua["st"], 64, 1)
        for mode in MODES:
            best: dict[str, Any] | None = None
            for attempt in range(1 + a.retries):
                if attempt:  # the previous try shared core 0 with other jobs: try again
                    wait_quiet(a.quiet, a.quiet_wait)
                c0, j0 = (cpu_seconds(proc.pid) if proc else 0.0), core_jiffies()
                w = wrk(port, a.lua[mode], 64, a.duration)
                c_used, j1 = (cpu_seconds(proc.pid) - c0) if proc else 0.0, core_jiffies()
                util = c_used / (w["duration_us"] / 1e6)
                rec: dict[str, Any] = {
                    f"{mode}_c64": w,
                    # share of core 0 used by processes that are not the proxy (other jobs)
                    f"{mode}_core0_foreign": max(
                        0.0, busy_between(j0, j1)[f"cpu{PROXY_CORE}"] - util
                    ),
                }
                if proc:
                    rec[f"{mode}_cpu_us_per_req"] = c_used / (w["requests"] or 1) * 1e6
                    rec[f"{mode}_cpu_util"] = util
                if best is None or rec[f"{mode}_core0_foreign"] < best[f"{mode}_core0_foreign"]:
                    best = rec
                if rec[f"{mode}_core0_foreign"] <= a.max_foreign:
                    break
            assert best is not None
            best[f"{mode}_attempts"] = attempt + 1  # runs made; the least disturbed is kept
            r.data.update(best)
        for mode in ("ns", "st"):
            r.data[f"{mode}_c1_wrk"] = wrk(port, a.lua[mode], 1, a.c1_duration)
        lat = c1(port, a.n)
        for mode in ("ns", "st"):
            lat[mode].pop("body")
        r.data["c1_raw"] = lat
        if proc:
            r.data["peak_rss_mb"] = peak_rss_mb(proc.pid)
    finally:
        if proc:
            stop(proc)
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            if tail:
                r.data["log_tail"] = tail
    return r


def _g(d: Any, *ks: str) -> Any:
    for k in ks:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def fmt_tables(results: list[Result]) -> str:
    by = {r.name: r.data for r in results}
    ngx, direct = by.get("nginx", {}), by.get("direct", {})

    def pct(x: Any) -> str:
        return f"{x:.0%}" if x is not None else ""

    t1 = [
        "| candidate | non-stream req/s | vs nginx | p50 / p99 ms | CPU µs/req | capacity req/s"
        " | stream req/s | vs nginx | p50 / p99 ms | CPU µs/stream"
        " | paced stream req/s | CPU µs/paced stream | proxy busy ns / st / paced"
        " | other load core 0 ns / st / paced | peak RSS MB | errors |",
        "|" + "---|" * 16,
    ]
    for name, d in by.items():
        cells = [name]
        for mode in MODES:
            w, nw = d.get(f"{mode}_c64", {}), ngx.get(f"{mode}_c64", {})
            cpu = d.get(f"{mode}_cpu_us_per_req")
            cells.append(f"{w['rps']:,.0f}" if w else "")
            if mode != "sp":
                cells.append(pct(w["rps"] / nw["rps"]) if w and nw else "")
                cells.append(f"{w['p50_us'] / 1e3:.2f} / {w['p99_us'] / 1e3:.2f}" if w else "")
            cells.append(f"{cpu:.0f}" if cpu is not None else "")
            if mode == "ns":
                cells.append(f"{1e6 / cpu:,.0f}" if cpu else "")
        cells.append(
            " / ".join(pct(d.get(f"{m}_cpu_util")) for m in MODES) if "ns_cpu_util" in d else ""
        )
        cells.append(
            " / ".join(pct(d.get(f"{m}_core0_foreign")) for m in MODES)
            if "ns_core0_foreign" in d
            else ""
        )
        rss = d.get("peak_rss_mb")
        cells.append(f"{rss:.0f}" if rss is not None else "")
        errs = sum(
            (d.get(f"{m}_c64", {}).get(k, 0) or 0)
            for m in MODES
            for k in ("errors", "status_errors")
        )
        cells.append(f"{errs}{'' if d.get('relay_exact', True) else ' BODY MISMATCH'}")
        t1.append("| " + " | ".join(cells) + " |")

    t2 = [
        "| candidate | non-stream p50 ms (raw) | added | non-stream p50 ms (wrk) | added"
        " | stream TTFB p50 ms | added | stream complete p50 ms | body reads per stream |",
        "|" + "---|" * 9,
    ]
    for name, d in by.items():
        cells = [name]
        for v, base in (
            (_g(d, "c1_raw", "ns", "total_p50_ms"), _g(direct, "c1_raw", "ns", "total_p50_ms")),
            (_g(d, "ns_c1_wrk", "p50_us") / 1e3, _g(direct, "ns_c1_wrk", "p50_us") / 1e3),
            (_g(d, "c1_raw", "st", "ttfb_p50_ms"), _g(direct, "c1_raw", "st", "ttfb_p50_ms")),
        ):
            cells.append(f"{v:.3f}")
            cells.append("—" if name == "direct" else f"{v - base:+.3f}")
        cells.append(f"{_g(d, 'c1_raw', 'st', 'total_p50_ms'):.3f}")
        cells.append(f"{_g(d, 'c1_raw', 'st', 'body_pieces_p50'):.0f}")
        t2.append("| " + " | ".join(cells) + " |")
    return "\n".join(t1) + "\n\n" + "\n".join(t2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--matrix", choices=["default", "full"], default="default")
    ap.add_argument("--only", help="comma-separated candidate names (direct, nginx, server+client)")
    ap.add_argument("--duration", type=int, default=5, help="wrk c=64 seconds")
    ap.add_argument("--c1-duration", type=int, default=2, help="wrk c=1 seconds")
    ap.add_argument("-n", type=int, default=2000, help="raw c=1 requests per mode")
    ap.add_argument("--quiet", type=float, default=0.15, help="max other load before a run")
    ap.add_argument("--quiet-wait", type=float, default=10, help="max seconds to wait for it")
    ap.add_argument("--max-foreign", type=float, default=0.10, help="other load on core 0 ...")
    ap.add_argument("--retries", type=int, default=1, help="... above which a c=64 run is redone")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "latest.json")
    a = ap.parse_args()

    os.sched_setaffinity(0, {int(LOAD_CORE)})  # driver + c=1 client live on the load core
    names = (
        a.only.split(",") if a.only else (full_matrix() if a.matrix == "full" else default_matrix())
    )
    if "direct" not in names:
        names.insert(0, "direct")  # needed as the added-latency baseline and body reference

    with tempfile.TemporaryDirectory(prefix="turnout-bench-") as td:
        tmp = Path(td)
        a.lua = {}
        for mode, body in (("ns", BODY), ("st", BODY_STREAM), ("sp", BODY_PACED)):
            a.lua[mode] = tmp / f"{mode}.lua"
            a.lua[mode].write_text(LUA.format(body=body.decode()))
        wait_port_free(UP_PORT)
        upstream = start([PY, "upstream.py", "--port", str(UP_PORT)], LOAD_CORE, tmp / "up.log")
        wait_port(UP_PORT)
        results: list[Result] = []
        ref = None
        t_start = time.monotonic()
        try:
            for name in names:
                t0 = time.monotonic()
                try:
                    res = measure(name, tmp, a, ref)
                except Exception as e:  # keep going: report the failure
                    print(f"  !! {name} failed: {e!r}", flush=True)
                    continue
                if name == "direct":
                    ref = res.data.pop("ref")
                results.append(res)
                d = res.data
                print(
                    f"{name:24s} ns {d['ns_c64']['rps']:7,.0f}/s  st {d['st_c64']['rps']:6,.0f}/s"
                    f"  paced {d['sp_c64']['rps']:6,.0f}/s"
                    f"  c1 ns {d['c1_raw']['ns']['total_p50_ms']:.3f} ms"
                    f"  ttfb {d['c1_raw']['st']['ttfb_p50_ms']:.3f} ms"
                    f"  ({time.monotonic() - t0:.0f}s)",
                    flush=True,
                )
        finally:
            stop(upstream)
    print()
    print(fmt_tables(results))
    print(f"\ntotal {time.monotonic() - t_start:.0f}s")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meta = {
        "nproc": os.cpu_count(),
        "cpu": next(
            (ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?"
        ),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "args": {k: str(v) for k, v in vars(a).items() if not k.startswith("lua")},
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    a.json.write_text(
        json.dumps({"meta": meta, "results": {r.name: r.data for r in results}}, indent=1)
    )
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
