"""The limiter's own RESP2 reader."""

from __future__ import annotations

from turnout.limits.resp import RedisError, _encode, parse


def test_replies() -> None:
    assert parse(b":12\r\n", 0) == (12, 5)
    assert parse(b"$3\r\nabc\r\n", 0) == (b"abc", 9)
    assert parse(b"$3\r\nab", 0) is None  # incomplete
    assert parse(b"*2\r\n:1\r\n$-1\r\n", 0) == ([1, None], 13)
    assert parse(b"*2\r\n:1\r\n", 0) is None
    err, _ = parse(b"-NOSCRIPT No matching script\r\n", 0)
    assert isinstance(err, RedisError) and str(err).startswith("NOSCRIPT")


def test_commands_are_bulk_strings() -> None:
    assert _encode(("EVALSHA", "ab", 1, 0.5, b"x")) == (
        b"*5\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$3\r\n0.5\r\n$1\r\nx\r\n"
    )


def test_round_trips_on_uvloop() -> None:
    """The server runs uvloop, whose transports are not asyncio's classes."""
    import uvloop

    from tests.unit.cache.redis_support import shared_redis
    from turnout.limits.resp import Connection

    async def go() -> list[object]:
        conn = Connection(shared_redis(), timeout=2)
        try:
            return [await conn.call("PING"), *(await conn.many([("ECHO", "a"), ("ECHO", "b")]))]
        finally:
            await conn.close()

    assert uvloop.run(go()) == [b"PONG", b"a", b"b"]
