"""Raw HTTP/1.1 over a socket, for requests no HTTP client library would send: hostile
heads, bytes that are not what they claim, clients that stall half-way."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import orjson


@dataclass
class RawReply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> object:
        return orjson.loads(self.body)


def connect(port: int, timeout: float = 30.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_reply(sock: socket.socket) -> RawReply | None:
    """One final response (Content-Length or chunked; interim 1xx ones such as ``100
    Continue`` are skipped), or None when the server closed without one."""
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 1"):
            break
        data = rest
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        size = int(headers["content-length"])
        while len(rest) < size:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return RawReply(status, headers, rest[:size])
    if headers.get("transfer-encoding") == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, pos = b"", 0
        while True:
            end = rest.index(b"\r\n", pos)
            size = int(rest[pos:end], 16)
            if size == 0:
                break
            body += rest[end + 2 : end + 2 + size]
            pos = end + 2 + size + 2
        return RawReply(status, headers, body)
    return RawReply(status, headers, rest)


def request(port: int, data: bytes, timeout: float = 30.0) -> RawReply | None:
    """Send ``data`` as it is and read one reply."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return read_reply(sock)


def post(path: str, body: bytes, *headers: str, host: str = "localhost") -> bytes:
    """A well-formed POST head and body; ``headers`` are extra ``Name: value`` lines."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", *headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def announce(path: str, length: int, *headers: str, host: str = "localhost") -> bytes:
    """A POST head promising a ``length``-byte body, for sending none or only part of it."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", *headers, f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server closed the connection (waits up to the socket's timeout)."""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def split_replies(data: bytes) -> list[RawReply]:
    """The responses in ``data``, one after another (each with a ``Content-Length``): what a
    client that pipelined its requests reads, in order."""
    out: list[RawReply] = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"an incomplete response: {data[:200]!r}")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        size = int(headers["content-length"])
        out.append(RawReply(int(lines[0].split(" ", 2)[1]), headers, rest[:size]))
        data = rest[size:]
    return out
