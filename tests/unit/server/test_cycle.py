"""The exchange: a response's head and first body part in one write, uvicorn's framing and
checks, and ``receive`` as ASGI defines it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl

from turnout.server.cycle import Enforced, Exchange


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def cycle(
    method: str = "POST", keep_alive: bool = True, expect_100: bool = False
) -> tuple[Exchange, Transport, list[int]]:
    transport = Transport()
    done: list[int] = []
    c = Exchange(
        {"method": method, "type": "http"},
        transport,  # type: ignore[arg-type]
        FlowControl(transport),  # type: ignore[arg-type]
        [(b"date", b"today")],
        keep_alive,
        expect_100,
        lambda: done.append(1),
        logging.getLogger("test"),
    )
    return c, transport, done


def start(body: bytes, *extra: tuple[bytes, bytes]) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json"), *extra]
    headers.append((b"content-length", str(len(body)).encode()))
    return {"type": "http.response.start", "status": 200, "headers": headers}


async def test_a_sized_answer_leaves_in_one_write() -> None:
    c, t, done = cycle()
    await c.send(start(b"{}"))
    assert t.writes == []
    await c.send({"type": "http.response.body", "body": b"{}"})
    assert t.writes == [
        b"HTTP/1.1 200 OK\r\ndate: today\r\ncontent-type: application/json\r\n"
        b"content-length: 2\r\n\r\n{}"
    ]
    assert c.response_complete and done == [1] and not t.closed


async def test_a_closing_answer_says_so_once_and_closes() -> None:
    c, t, _ = cycle(keep_alive=False)
    await c.send(start(b"x"))
    await c.send({"type": "http.response.body", "body": b"x"})
    assert len(t.writes) == 1 and t.writes[0].count(b"connection: close") == 1 and t.closed
    c, t, _ = cycle()
    await c.send(start(b"x", (b"connection", b"close")))
    await c.send({"type": "http.response.body", "body": b"x"})
    assert t.writes[0].count(b"connection: close") == 1 and t.closed


async def test_head_and_no_content_answers_leave_at_once() -> None:
    c, t, done = cycle("HEAD")
    await c.send(start(b"{}"))
    assert len(t.writes) == 1 and t.writes[0].endswith(b"content-length: 2\r\n\r\n")
    await c.send({"type": "http.response.body", "body": b""})
    assert len(t.writes) == 1 and done == [1]
    c, t, _ = cycle()
    await c.send({"type": "http.response.start", "status": 204, "headers": [(b"x-a", b"1")]})
    assert t.writes == [b"HTTP/1.1 204 No Content\r\ndate: today\r\nx-a: 1\r\n\r\n"]


async def test_a_body_in_parts_gets_the_head_with_its_first_part() -> None:
    c, t, done = cycle()
    await c.send(start(b"abcd"))
    await c.send({"type": "http.response.body", "body": b"ab", "more_body": True})
    await c.send({"type": "http.response.body", "body": b"cd"})
    assert t.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and t.writes[0].endswith(b"\r\n\r\nab")
    assert t.writes[1:] == [b"cd"] and done == [1]


async def test_a_new_start_replaces_a_held_one() -> None:
    c, t, _ = cycle()
    await c.send(start(b"{}"))
    await c.send(start(b"oops"))  # what an application's own 500 path sends after a failure
    await c.send({"type": "http.response.body", "body": b"oops"})
    assert len(t.writes) == 1 and t.writes[0].endswith(b"content-length: 4\r\n\r\noops")


@pytest.mark.parametrize(
    "header",
    [(b"x-evil", b"a\r\nset-cookie: x=1"), (b"x evil", b"a"), (b"x-nul", b"a\x00b")],
)
async def test_unsafe_headers_are_refused_as_uvicorn_refuses_them(
    header: tuple[bytes, bytes],
) -> None:
    c, t, _ = cycle()
    await c.send(start(b"{}", header))
    with pytest.raises(RuntimeError):
        await c.send({"type": "http.response.body", "body": b"{}"})
    assert t.writes == []


async def test_a_wrong_length_is_refused_before_anything_is_written() -> None:
    for length, error in ((b"5", "shorter"), (b"1", "longer")):
        c, t, _ = cycle()
        message = start(b"{}")
        message["headers"][-1] = (b"content-length", length)
        await c.send(message)
        with pytest.raises(RuntimeError, match=error):
            await c.send({"type": "http.response.body", "body": b"{}"})
        assert t.writes == [] if error == "longer" else len(t.writes) == 1


async def test_names_not_in_lower_case_are_lowered() -> None:
    c, t, done = cycle()
    await c.send(start(b"{}", (b"X-Plugin", b"1")))
    await c.send({"type": "http.response.body", "body": b"{}"})
    assert len(t.writes) == 1 and b"\r\nx-plugin: 1\r\n" in t.writes[0] and done == [1]


async def test_a_stream_head_leaves_with_its_first_chunk() -> None:
    sse = [(b"content-type", b"text/event-stream")]
    c, t, done = cycle()
    await c.send({"type": "http.response.start", "status": 200, "headers": sse})
    assert t.writes == []  # held until the first chunk
    await c.send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
    assert t.writes == [
        b"HTTP/1.1 200 OK\r\ndate: today\r\ncontent-type: text/event-stream\r\n"
        b"transfer-encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n"
    ]
    await c.send({"type": "http.response.body", "body": b"x", "more_body": True})
    await c.send({"type": "http.response.body", "body": b""})
    assert t.writes[1:] == [b"1\r\nx\r\n", b"0\r\n\r\n"] and done == [1]
    c, t, done = cycle(keep_alive=False)  # an empty stream on a closing connection
    await c.send({"type": "http.response.start", "status": 200, "headers": sse})
    await c.send({"type": "http.response.body", "body": b""})
    assert t.writes == [
        b"HTTP/1.1 200 OK\r\ndate: today\r\ncontent-type: text/event-stream\r\n"
        b"connection: close\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
    ]
    assert done == [1] and t.closed


async def test_an_application_chunking_itself_is_not_chunked_twice() -> None:
    c, t, _ = cycle()
    te = [(b"transfer-encoding", b"chunked")]
    await c.send({"type": "http.response.start", "status": 200, "headers": te})
    await c.send({"type": "http.response.body", "body": b"ab", "more_body": True})
    await c.send({"type": "http.response.body", "body": b""})
    assert t.writes[0].endswith(b"transfer-encoding: chunked\r\n\r\n2\r\nab\r\n")
    assert t.writes[1:] == [b"0\r\n\r\n"]


async def test_messages_out_of_order_are_refused() -> None:
    c, _, _ = cycle()
    with pytest.raises(RuntimeError, match=r"http\.response\.start"):
        await c.send({"type": "http.response.body", "body": b""})
    await c.send(start(b""))
    await c.send({"type": "http.response.body", "body": b""})
    with pytest.raises(RuntimeError, match="completed"):
        await c.send({"type": "http.response.body", "body": b""})


async def test_receive_hands_over_an_arrived_body_then_waits_for_the_end() -> None:
    c, t, _ = cycle(expect_100=True)
    c.feed(b'{"a":')
    c.feed(b"1}")
    c.end()
    assert await c.receive() == {"type": "http.request", "body": b'{"a":1}', "more_body": False}
    assert t.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    waiting = asyncio.create_task(c.receive())  # a disconnect watch: waits for the end
    await asyncio.sleep(0)
    assert not waiting.done()
    await c.send(start(b""))
    await c.send({"type": "http.response.body", "body": b""})
    assert await waiting == {"type": "http.disconnect"}


async def test_receive_waits_for_a_body_in_parts_and_for_a_client_that_leaves() -> None:
    c, _, _ = cycle()
    first = asyncio.create_task(c.receive())
    await asyncio.sleep(0)
    assert not first.done()
    c.feed(b"ab")
    assert await first == {"type": "http.request", "body": b"ab", "more_body": True}
    second = asyncio.create_task(c.receive())
    await asyncio.sleep(0)
    c.lost()
    assert await second == {"type": "http.disconnect"}
    await c.send(start(b"x"))  # a client that left is written nothing
    assert c.transport.writes == []  # type: ignore[attr-defined]


async def test_an_application_failing_before_its_answer_gets_a_500() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(b"{}"))  # held, never written
        raise ValueError("boom")

    c, t, done = cycle()
    await c.run(app)
    assert t.writes[0].startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and t.closed
    assert done == [1]


async def test_a_request_cancelled_for_a_client_that_left_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.Event().wait()  # until cancelled

    c, t, _ = cycle()
    task = asyncio.create_task(c.run(app))
    await asyncio.sleep(0)
    c.lost()  # what the protocol does before it cancels the task
    task.cancel()
    with caplog.at_level(logging.ERROR):
        await task
    assert not task.cancelled() and not caplog.records and t.writes == []


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"2"), (b"content-type", b"application/json")],  # not last
        [(b"x-content-length", b"9"), (b"content-length", b"2")],  # a look-alike before it
        [(b"Content-Length", b"2")],  # not in lower case
        [(b"content-length", b"2"), (b"content-length", b"7")],  # twice: the first counts
    ],
)
async def test_the_length_is_found_wherever_it_is(headers: list[tuple[bytes, bytes]]) -> None:
    c, t, done = cycle()
    await c.send({"type": "http.response.start", "status": 200, "headers": headers})
    await c.send({"type": "http.response.body", "body": b"{}"})
    assert len(t.writes) == 1 and t.writes[0].endswith(b"\r\n\r\n{}") and done == [1]
    assert b"transfer-encoding" not in t.writes[0]


def test_the_byte_sets_are_uvicorns_expressions() -> None:
    """Every byte the cycle refuses in a header name or value is one uvicorn's regular
    expressions refuse, and no other."""
    from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE

    from turnout.server.cycle import _NOT_IN_NAMES, _NOT_IN_VALUES

    for byte in range(256):
        b = bytes([byte])
        assert (b in _NOT_IN_NAMES) == bool(HEADER_RE.search(b)), byte
        assert (b in _NOT_IN_VALUES) == bool(HEADER_VALUE_RE.search(b)), byte


def test_every_byte_of_a_value_is_judged_as_uvicorn_judges_it() -> None:
    """Values are checked in the joined header block (its line breaks discounted): a byte is
    refused there, in the first header or the last, exactly when uvicorn's expression refuses
    it."""
    from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE

    for byte in range(256):
        value = b"a" + bytes([byte]) + b"b"
        for headers in (
            [(b"x-a", value), (b"x-b", b"1"), (b"content-length", b"0")],
            [(b"x-b", b"1"), (b"content-length", b"0"), (b"x-a", value)],
        ):
            c, _, _ = cycle()
            message = {"type": "http.response.start", "status": 200, "headers": headers}
            if HEADER_VALUE_RE.search(value):
                with pytest.raises(RuntimeError, match="value"):
                    c._head(message)
            else:
                assert c._head(message).endswith(b"\r\n\r\n"), byte


ENFORCED = [(b"x-content-type-options", b"nosniff"), (b"content-security-policy", b"sandbox")]


@pytest.mark.parametrize(
    "theirs",
    [
        [],
        [(b"Content-Security-Policy", b"script-src *")],
        [(b"content-security-policy-report-only", b"x"), (b"X-Content-Type-Options", b"")],
        [(b"x-x-content-type-options", b"kept"), (b"content-security-policy", b"a")],
    ],
    ids=["none", "restated", "report-only-and-empty", "longer-name"],
)
async def test_enforced_headers_are_written_once_and_the_applications_own_dropped(
    theirs: list[tuple[bytes, bytes]],
) -> None:
    c, t, _ = cycle()
    c.enforced = Enforced(ENFORCED)
    await c.send(start(b"{}", *theirs))
    await c.send({"type": "http.response.body", "body": b"{}"})
    head = t.writes[0].split(b"\r\n\r\n", 1)[0].lower()
    assert head.count(b"x-content-type-options:") == 1 + head.count(b"x-x-content-type-options")
    assert head.count(b"\r\ncontent-security-policy") == 1
    assert b"x-content-type-options: nosniff" in head
    assert b"content-security-policy: sandbox" in head
    assert (b"x-x-content-type-options: kept" in head) == any(v == b"kept" for _, v in theirs)
    assert head.count(b"\r\ncontent-length: 2\r\n") == 1


def test_an_enforced_header_no_answer_may_carry_is_refused_at_once() -> None:
    with pytest.raises(ValueError):
        Enforced([(b"x-a", b"b\r\nset-cookie: c")])
    with pytest.raises(ValueError):
        Enforced([(b"x a", b"b")])
