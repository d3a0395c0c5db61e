"""A tiny authoritative DNS server for tests: answers A/AAAA queries from a JSON zone.

    python -m tests.support.dns_stub --port 5353 --zone zone.json

The zone maps a name to a list of answers, one per successive query (the last one repeats),
each a list of addresses (A and AAAA are picked by family)::

    {"public.test": [["93.184.216.34"]],
     "rebind.test": [["127.0.0.2"], ["127.0.0.3"]]}      # first answer, then every later one

Unknown names get NXDOMAIN. Every query is printed as ``query NAME TYPE`` (flushed), so a test
can count lookups. It prints ``ready`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class Stub(asyncio.DatagramProtocol):
    def __init__(self, zone: dict[str, list[list[str]]]) -> None:
        self.zone = {k.lower().rstrip("."): v for k, v in zone.items()}
        self.asked: dict[tuple[str, int], int] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for q in query.question:
            name = q.name.to_text().lower().rstrip(".")
            print(f"query {name} {dns.rdatatype.to_text(q.rdtype)}", flush=True)
            answers = self.zone.get(name)
            if answers is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                continue
            n = self.asked.get((name, q.rdtype), 0)
            self.asked[(name, q.rdtype)] = n + 1
            addrs = answers[min(n, len(answers) - 1)]
            version = 4 if q.rdtype == dns.rdatatype.A else 6
            picked = [a for a in addrs if ipaddress.ip_address(a).version == version]
            if picked and q.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                rrset = dns.rrset.from_text_list(q.name, 0, "IN", q.rdtype, picked)
                response.answer.append(rrset)
        self.transport.sendto(response.to_wire(), addr)


async def serve(port: int, zone: dict[str, list[list[str]]]) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: Stub(zone), local_addr=("127.0.0.1", port))
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--zone", type=Path, required=True)
    a = ap.parse_args()
    asyncio.run(serve(a.port, json.loads(a.zone.read_text())))


if __name__ == "__main__":
    main()
