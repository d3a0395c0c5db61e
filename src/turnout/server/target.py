"""Whom a request is for: its ``Host`` header and the authority of its request target.

RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without ``Host``, and to any
request with several ``Host`` lines or an invalid one; a request in absolute form
(``POST http://host/path``) names its host in the target, which wins over ``Host``. llhttp checks
none of this, and the gateway used to serve all of it: with two ``Host`` lines a proxy in front
and the gateway read different hosts (the proxy the first, the gateway's header dict the last),
and every place that builds a URL from the host (the admin API's redirects, the MCP metadata,
A2A cards, the dashboard's origin check, the single sign-on callback) met whatever a client
wrote there.

The host is read by llhttp's URL parser, the parser that reads request targets: a host name
or an IPv4 or bracketed IPv6 address, an optional port up to 65535, nothing else (no
credentials, path, query or spaces). llhttp refuses ``_`` in names, which RFC 3986 allows and
container names use (``turnout_gateway:4141``), so it is read as ``-``.
"""

from __future__ import annotations

from typing import Any

import httptools

Headers = list[tuple[bytes, bytes]]
_HOST = b"host"
_SCHEMES = frozenset((b"http", b"https"))


def valid_host(value: bytes) -> bool:
    """Whether ``value`` is a ``host[:port]`` and nothing more."""
    try:
        url = httptools.parse_url(b"http://" + value.replace(b"_", b"-") + b"/")
    except httptools.HttpParserInvalidURLError:
        return False
    return url.userinfo is None and url.path == b"/" and url.query is None and url.fragment is None


def authority(url: Any, headers: Headers, version: str, known: bytes) -> tuple[str | None, bytes]:
    """(why the request is refused or None, its host). ``url`` is the target as
    ``httptools.parse_url`` read it; ``known`` a host already found valid on this connection
    (it is not read again). An absolute-form target's host replaces the ``Host`` lines in
    ``headers`` (in place): the rest of the gateway reads one host, the one the target names.
    """
    if url.schema is not None:  # absolute form
        if url.schema.lower() not in _SCHEMES or url.userinfo is not None or not url.host:
            return "An absolute request target must be http(s)://host[:port]/path", b""
        host = url.host if b":" not in url.host else b"[" + url.host + b"]"
        if url.port is not None:
            host += b":%d" % url.port
        headers[:] = [(n, v) for n, v in headers if n != _HOST]
        headers.append((_HOST, host))
        return None, host
    hosts = [v for n, v in headers if n == _HOST]
    if len(hosts) != 1:
        if not hosts and version == "1.0":  # HTTP/1.0 may leave it out
            return None, b""
        return "A request needs exactly one Host header", b""
    host = hosts[0]
    if (host != known or not known) and not valid_host(host):
        return "The Host header must be host[:port]", b""
    return None, host
