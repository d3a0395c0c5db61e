"""The hostile destinations every URL-accepting path must refuse: (URL, rule).

Names under ``.test`` are answered by the test's resolver (an in-process one in unit tests,
the DNS stub process in the gateway tests) from :data:`ZONE`.
"""

from __future__ import annotations

ZONE: dict[str, list[list[str]]] = {
    "loopback.test": [["127.0.0.1"]],
    "private10.test": [["10.1.2.3"]],
    "private192.test": [["192.168.1.1"]],
    "metadata.test": [["169.254.169.254"]],
    "v6loop.test": [["::1"]],
    "v6ula.test": [["fd12:3456::1"]],
    "mapped.test": [["::ffff:127.0.0.1"]],
    "mixed.test": [["93.184.216.34", "10.0.0.1"]],  # one private answer among public ones
    "cgnat.test": [["100.64.0.1"]],
    "public.test": [["93.184.216.34"]],  # never connected to: only checked
}

HOSTILE: list[tuple[str, str]] = [
    # schemes
    ("file:///etc/passwd", "scheme"),
    ("gopher://example.com:70/_x", "scheme"),
    ("ftp://example.com/x", "scheme"),
    ("dict://127.0.0.1:11211/stat", "scheme"),
    ("//example.com/v1", "scheme"),
    # IPv4 address classes
    ("http://127.0.0.1/v1", "loopback"),
    ("http://127.8.9.10:8000/v1", "loopback"),
    ("http://10.0.0.5/v1", "private"),
    ("http://172.16.3.4/v1", "private"),
    ("http://192.168.0.1/v1", "private"),
    ("http://100.64.1.1/v1", "cgnat"),
    ("http://169.254.1.1/v1", "link-local"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://169.254.170.2/v2/credentials", "metadata"),
    ("http://100.100.100.200/latest/meta-data", "metadata"),
    ("http://0.0.0.0:8000/v1", "unspecified"),
    ("http://224.0.0.1/v1", "multicast"),
    ("http://255.255.255.255/v1", "reserved"),
    ("http://198.18.0.1/v1", "benchmarking"),
    ("http://192.0.2.1/v1", "documentation"),
    # IPv6 address classes and IPv4 embedded in IPv6
    ("http://[::1]:8000/v1", "loopback"),
    ("http://[::]/v1", "unspecified"),
    ("http://[fe80::1]/v1", "link-local"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://[fc00::1]/v1", "private"),
    ("http://[ff02::1]/v1", "multicast"),
    ("http://[::ffff:127.0.0.1]/v1", "ipv4-mapped"),
    ("http://[::ffff:a9fe:a9fe]/v1", "ipv4-mapped"),
    ("http://[::127.0.0.1]/v1", "ipv4-compatible"),
    ("http://[64:ff9b::a9fe:a9fe]/v1", "nat64"),
    ("http://[2002:7f00:1::]/v1", "6to4"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/v1", "teredo"),
    ("http://[fec0::1]/v1", "site-local"),
    # odd spellings of 127.0.0.1 / 169.254.169.254
    ("http://2130706433/v1", "odd-spelling"),
    ("http://0x7f000001/v1", "odd-spelling"),
    ("http://0177.0.0.1/v1", "odd-spelling"),
    ("http://0x7f.0.0.1/v1", "odd-spelling"),
    ("http://127.1/v1", "odd-spelling"),
    ("http://127.000.000.001/v1", "odd-spelling"),
    ("http://2852039166/latest/meta-data/", "odd-spelling"),
    ("http://%31%32%37.0.0.1/v1", "odd-spelling"),
    ("http://127.0.0.1./v1", "loopback"),
    ("http://\uff11\uff12\uff17.0.0.1/v1", "loopback"),  # full-width digits
    ("http://evil.com\\@127.0.0.1/v1", "userinfo"),
    # names
    ("http://localhost:8000/v1", "loopback"),
    ("http://api.localhost/v1", "loopback"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("http://user:pass@example.com/v1", "userinfo"),
    ("http://loopback.test:8000/v1", "loopback"),
    ("http://private10.test/v1", "private"),
    ("http://private192.test/v1", "private"),
    ("http://metadata.test/latest/meta-data/", "metadata"),
    ("http://v6loop.test/v1", "loopback"),
    ("http://v6ula.test/v1", "private"),
    ("http://mapped.test/v1", "ipv4-mapped"),
    ("http://mixed.test/v1", "private"),
    ("http://cgnat.test/v1", "cgnat"),
    ("http://nxdomain.test/v1", "unresolvable"),
]
