"""The one Redis URL syntax: every form it accepts, and the mistakes it refuses."""

from __future__ import annotations

import pytest

from turnout.redisconn import parse_redis_url


@pytest.mark.parametrize(
    ("url", "kind", "tls", "hosts", "db", "service", "user", "password"),
    [
        ("redis://127.0.0.1:6379/0", "single", False, [("127.0.0.1", 6379)], 0, None, None, None),
        ("redis://h", "single", False, [("h", 6379)], 0, None, None, None),
        ("rediss://u:p%40ss@h:6380/3", "single", True, [("h", 6380)], 3, None, "u", "p@ss"),
        ("redis://:secret@h/2", "single", False, [("h", 6379)], 2, None, None, "secret"),
        ("redis://secret@h", "single", False, [("h", 6379)], 0, None, None, "secret"),
        ("redis://[::1]:7000/1", "single", False, [("::1", 7000)], 1, None, None, None),
        (
            "redis+sentinel://s1:26379,s2:26380/mymaster/4",
            "sentinel", False, [("s1", 26379), ("s2", 26380)], 4, "mymaster", None, None,
        ),
        (
            "rediss+cluster://u:p@n1:7000,n2:7001,n3",
            "cluster", True, [("n1", 7000), ("n2", 7001), ("n3", 6379)], 0, None, "u", "p",
        ),
    ],
)  # fmt: skip
def test_forms(
    url: str,
    kind: str,
    tls: bool,
    hosts: list[tuple[str, int]],
    db: int,
    service: str | None,
    user: str | None,
    password: str | None,
) -> None:
    t = parse_redis_url(url)
    assert (t.kind, t.tls, list(t.hosts), t.db, t.service) == (kind, tls, hosts, db, service)
    assert (t.username, t.password) == (user, password)
    if password:
        assert password not in repr(t) and password not in t.describe()


def test_options() -> None:
    t = parse_redis_url(
        "rediss://h/0?ca_file=/ca.pem&cert_file=/c.pem&key_file=/k.pem&verify=false"
    )
    assert t.options == {
        "ca_file": "/ca.pem",
        "cert_file": "/c.pem",
        "key_file": "/k.pem",
        "verify": "false",
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h", "must start with one of"),
        ("redis://h/0?tls_verify=no", "unknown query option(s)"),
        ("redis://h/0?ca_file=/x", "TLS options need a rediss:// URL"),
        ("redis+cluster://h:1/3", "Redis Cluster has only database 0"),
        ("redis+sentinel://h:26379", "names the service"),
        ("redis://a:1,b:2", "several hosts"),
        ("redis://h/x", "the path must be a database number"),
        ("redis://h:99999", "cannot read the host list"),
        ("rediss://h?verify=maybe", "verify must be true or false"),
    ],
)
def test_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_redis_url(url)
