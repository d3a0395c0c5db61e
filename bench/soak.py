"""The soak of ``bench/run.py --soak N``: N requests mixing what production sends, RSS sampled.

The issue's target is "peak RSS ≤ 90 MB, flat (± 2 MB) over a 200k-request soak that mixes
streams, errors and client cancels". A leak hides in the paths a clean benchmark never takes
(an upstream failing, a client walking away), so the soak drives all of them at once against
one gateway process:

- wrk at c=64 rotates, request by request, through non-stream requests and 20-chunk streams,
  upstream errors (``x-mock-status`` 500, retried by the gateway, and 400, relayed), and
  broken streams (``x-mock-fault: error-midstream`` and ``truncate``; the gateway cuts the
  client's connection when its upstream's stream breaks, which wrk counts as a read error and
  the soak as a request). The mock honours the ``x-mock-*`` headers only if the gateway
  relays them, so the soak's gateway is the target's own config plus
  ``forward_headers: ["x-mock-*"]`` on its provider (:func:`forwarding`);
- alongside, a few asyncio clients cancel: each opens a connection, sends a paced stream
  (``x-mock-chunk-ms``) and closes after its first chunk (FIN, or RST via ``abort``), or sends
  a request with a slow first byte (``x-mock-ttft-ms``) and closes before any answer — what
  wrk cannot do.

RSS is sampled after every chunk of wrk; the first samples (the first tenth of the requests)
are warm-up, the verdict compares the sample after them with the last. After the soak the
gateway's ``/metrics`` must show nothing in flight (requests and deployments), within a few
seconds: a cancelled or failed request that never gives its slot back shows up there.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

WRK_CONNS = 64
CHUNK_SECONDS = 3  # wrk run between two RSS samples
CANCELLERS = 4  # concurrent cancelling clients next to wrk
WARMUP_SHARE = 0.1  # leading share of the soak's requests before the RSS baseline
INFLIGHT_DEADLINE = 10.0  # seconds for in-flight counts to return to 0 after the soak
PATH = "/v1/chat/completions"

# wrk's rotation: (body kind, extra headers). 16 of 20 are answered normally.
MIX: list[tuple[str, dict[str, str]]] = [
    *[("ns", {}), ("st", {})] * 8,
    ("ns", {"x-mock-status": "500"}),  # an upstream failure: retried, then relayed as 5xx
    ("ns", {"x-mock-status": "400"}),  # an upstream client error: relayed at once
    ("st", {"x-mock-fault": "error-midstream"}),  # the stream fails after its first half
    ("st", {"x-mock-fault": "truncate"}),  # the stream stops without its end
]

# The cancelling clients' requests: how each ends, the upstream's pacing that keeps the
# gateway busy with it when the client goes.
CANCELS: dict[str, tuple[str, dict[str, str]]] = {
    "mid-stream close": ("st", {"x-mock-chunk-ms": "2"}),
    "before-answer close": ("ns", {"x-mock-ttft-ms": "50"}),
    "mid-stream reset": ("st", {"x-mock-chunk-ms": "2"}),
}

_LUA = """
local plan = {plan}
local auth = "{auth}"
local reqs = {{}}
local i = 0
s2, s4, s5 = 0, 0, 0
init = function(args)
  for n, p in ipairs(plan) do
    local h = {{["Content-Type"] = "application/json"}}
    if auth ~= "" then h["Authorization"] = "Bearer " .. auth end
    for k, v in pairs(p[2]) do h[k] = v end
    reqs[n] = wrk.format("POST", nil, h, p[1])
  end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
response = function(status, headers, body)
  if status < 300 then s2 = s2 + 1 elseif status < 500 then s4 = s4 + 1 else s5 = s5 + 1 end
end
local threads = {{}}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("s2"); b = b + t:get("s4"); c = c + t:get("s5") end
  local e = summary.errors
  io.write(string.format(
    '\\n{{"requests":%d,"duration_us":%d,"errors":%d,"s2xx":%d,"s4xx":%d,"s5xx":%d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, a, b, c))
end
"""


def lua(bodies: dict[str, bytes], auth: str) -> str:
    """The wrk script: the :data:`MIX` rotation, request by request, counting status classes."""
    rows = []
    for kind, headers in MIX:
        extra = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
        rows.append(f"{{[[{bodies[kind].decode()}]], {{{extra}}}}}")
    return _LUA.format(plan="{" + ", ".join(rows) + "}", auth=auth)


def forwarding(cmd: list[str], tmp: Path) -> list[str]:
    """The target's command with its config copied plus ``forward_headers: ["x-mock-*"]`` on
    every provider, so the soak's requests reach the mock with their failure headers."""
    i = cmd.index("-c") + 1
    cfg = yaml.safe_load(Path(cmd[i]).read_text())  # JSON is YAML
    for provider in cfg.get("providers", {}).values():
        provider["forward_headers"] = ["x-mock-*"]
    path = tmp / f"soak-{Path(cmd[i]).stem}.yaml"
    path.write_text(json.dumps(cfg))
    return [*cmd[:i], str(path), *cmd[i + 1 :]]


def _request(body: bytes, headers: dict[str, str], auth: str) -> bytes:
    head = f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if auth:
        head += f"Authorization: Bearer {auth}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def _canceller(
    port: int, raw: dict[str, bytes], counts: collections.Counter[str], stop: asyncio.Event
) -> None:
    """Open, send, walk away; one connection per request, round the :data:`CANCELS` kinds."""
    n = 0
    kinds = list(raw)
    while not stop.is_set():
        kind = kinds[n % len(kinds)]
        n += 1
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw[kind])
            if kind.startswith("before-answer"):
                await asyncio.sleep(0.005)  # the gateway now waits on the upstream's first byte
            else:
                await asyncio.wait_for(reader.readuntil(b"data:"), 5)  # the first chunk
            if kind.endswith("reset"):
                writer.transport.abort()
            else:
                writer.close()
            counts[kind] += 1
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            counts["failed"] += 1
            await asyncio.sleep(0.05)


async def _wrk(port: int, script: Path, core: str, secs: int) -> dict[str, Any]:
    cmd = ["taskset", "-c", core, "wrk", "-t1", f"-c{WRK_CONNS}", f"-d{secs}s", "--timeout", "5s"]
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{PATH}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError(f"wrk failed: {err.decode()[-500:]}")
    res: dict[str, Any] = json.loads(lines[-1])
    return res


async def _drive(
    pid: int, port: int, script: Path, raw: dict[str, bytes], total: int, core: str, cand: Any
) -> dict[str, Any]:
    counts: collections.Counter[str] = collections.Counter()
    wrk_totals: collections.Counter[str] = collections.Counter()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_canceller(port, raw, counts, stop)) for _ in range(CANCELLERS)]
    samples: list[tuple[int, float]] = []
    t0 = time.monotonic()
    try:
        done = 0
        while done < total:
            w = await _wrk(port, script, core, CHUNK_SECONDS)
            wrk_totals.update({k: v for k, v in w.items() if k != "duration_us"})
            cancelled = sum(v for k, v in counts.items() if k != "failed")
            # a stream the upstream breaks is cut by the gateway: a read error for wrk
            done = wrk_totals["requests"] + wrk_totals["errors"] + cancelled
            rss = rss_mb(pid, cand)
            samples.append((done, rss))
            print(
                f"  soak {done:>9,} requests ({cancelled:,} cancelled)  RSS {rss:6.1f} MB",
                flush=True,
            )
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "samples": samples,
        "wrk": dict(wrk_totals),
        "cancels": dict(counts),
        "seconds": time.monotonic() - t0,
    }


def rss_mb(pid: int, cand: Any) -> float:
    """Resident memory of the process tree now (VmRSS summed), in MB."""
    kb = 0
    for p in cand.tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kb += int(line.split()[1])
    return kb / 1024


_INFLIGHT = re.compile(r"^(turnout_(?:requests|deployment)_in_flight)(\{[^}]*\})? (\S+)$", re.M)
_FINISHED = re.compile(r'^turnout_requests_total\{[^}]*status="(\d+)"[^}]*\} (\S+)$', re.M)


def _metrics(port: int, admin: str) -> str | None:
    """``/metrics``, read with an admin credential (``metrics.access`` asks for one once
    authentication is on)."""
    headers = {"authorization": f"Bearer {admin}"}
    scrape = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers)
    try:
        with urllib.request.urlopen(scrape, timeout=5) as r:
            text: str = r.read().decode()
            return text
    except OSError:
        return None


def in_flight(text: str) -> dict[str, float]:
    """The gateway's in-flight gauges (requests, and each deployment's) from ``/metrics``."""
    return {m[1] + (m[2] or ""): float(m[3]) for m in _INFLIGHT.finditer(text)}


def by_status(text: str) -> dict[str, int]:
    """Requests the gateway finished, by the status it logged (499: the client went away)."""
    out: collections.Counter[str] = collections.Counter()
    for m in _FINISHED.finditer(text):
        out[m[1]] += int(float(m[2]))
    return dict(sorted(out.items()))


def settle(port: int, admin: str) -> dict[str, Any]:
    """Poll the in-flight gauges until all are 0 or :data:`INFLIGHT_DEADLINE` passes; with
    them, the requests the gateway finished by status."""
    deadline = time.monotonic() + INFLIGHT_DEADLINE
    t0 = time.monotonic()
    while True:
        text = _metrics(port, admin)
        gauges = in_flight(text) if text is not None else None
        zero = bool(gauges) and not any(gauges.values()) if gauges is not None else False
        if zero or time.monotonic() > deadline:
            return {
                "gauges": gauges,
                "zero": zero,
                "after_s": time.monotonic() - t0,
                "finished": by_status(text) if text is not None else None,
            }
        time.sleep(0.2)


def run(
    pid: int,
    port: int,
    tmp: Path,
    total: int,
    bodies: dict[str, bytes],
    auth: str,
    core: str,
    cand: Any,
    admin: str,
) -> dict[str, Any]:
    """Soak the gateway (``pid`` listening on ``port``) with ``total`` mixed requests; the
    load runs on ``core``; ``admin`` reads its ``/metrics``. Returns the RSS samples, the mix
    as answered, the in-flight gauges afterwards and the peak RSS."""
    script = tmp / "soak.lua"
    script.write_text(lua(bodies, auth))
    raw = {k: _request(bodies[b], h, auth) for k, (b, h) in CANCELS.items()}
    out = asyncio.run(_drive(pid, port, script, raw, total, core, cand))
    out["inflight"] = settle(port, admin)
    out["peak_rss_mb"] = cand.peak_rss_mb(pid)
    s = out["wrk"]
    c = out["cancels"]
    print(
        f"  soak mix: wrk {s['requests']:,} (2xx {s['s2xx']:,}, 4xx {s['s4xx']:,}, "
        f"5xx {s['s5xx']:,}, streams cut by the gateway {s['errors']:,}); cancels "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(c.items()))
        + f"; in flight after: {out['inflight']['gauges']}",
        flush=True,
    )
    print(f"  the gateway's requests by status: {out['inflight']['finished']}", flush=True)
    return out


def verdicts(name: str, soak: dict[str, Any]) -> list[tuple[bool, str]]:
    """The soak's targets: RSS flat within ± 2 MB after warm-up, peak ≤ 90 MB, nothing left
    in flight, and the mix as intended (errors answered, cancels made)."""
    samples = soak["samples"]
    total = samples[-1][0]
    base = next((s for s in samples if s[0] >= WARMUP_SHARE * total), samples[0])
    last = samples[-1]
    peak = soak["peak_rss_mb"]
    w, c = soak["wrk"], soak["cancels"]
    cancelled = sum(v for k, v in c.items() if k != "failed")
    flight = soak["inflight"]
    return [
        (
            abs(last[1] - base[1]) <= 2,
            f"{name}: soak RSS {base[1]:.1f} MB (after {base[0]:,} warm-up requests) → "
            f"{last[1]:.1f} MB at {total:,} requests (target ± 2)",
        ),
        (peak <= 90, f"{name}: soak peak RSS {peak:.0f} MB (target ≤ 90)"),
        (
            bool(flight["zero"]),
            f"{name}: in flight after the soak {flight['gauges']} (target all 0 within "
            f"{INFLIGHT_DEADLINE:.0f} s)",
        ),
        (
            w["s4xx"] > 0 and w["s5xx"] > 0 and cancelled > 0,
            f"{name}: soak mix {w['s4xx']:,} 4xx, {w['s5xx']:,} 5xx, {cancelled:,} client "
            f"cancels ({c.get('failed', 0):,} cancelling connections failed)",
        ),
    ]
