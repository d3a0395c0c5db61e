"""The cycle writes a sized answer in one write, and leaves everything else to uvicorn."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl

from turnout.server.cycle import GatewayCycle


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
    method: str = "POST", keep_alive: bool = True
) -> tuple[GatewayCycle, Transport, list[int]]:
    transport = Transport()
    done: list[int] = []
    c = GatewayCycle(
        scope={"method": method, "type": "http"},  # type: ignore[typeddict-item]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[(b"date", b"today")],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: done.append(1),
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


async def test_streams_and_head_requests_go_through_uvicorn() -> None:
    c, t, _ = cycle()
    await c.send({"type": "http.response.start", "status": 200, "headers": []})
    assert len(t.writes) == 1  # a chunked stream's head goes out at once
    await c.send({"type": "http.response.body", "body": b"a", "more_body": True})
    await c.send({"type": "http.response.body", "body": b""})
    assert t.writes[1:] == [b"1\r\na\r\n", b"0\r\n\r\n"]
    c, t, done = cycle("HEAD")
    await c.send(start(b"{}"))
    assert len(t.writes) == 1
    await c.send({"type": "http.response.body", "body": b""})
    assert done == [1]


async def test_a_body_in_parts_gets_the_held_head_first() -> None:
    c, t, _ = cycle()
    await c.send(start(b"abcd"))
    await c.send({"type": "http.response.body", "body": b"ab", "more_body": True})
    await c.send({"type": "http.response.body", "body": b"cd"})
    assert t.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and t.writes[1:] == [b"ab", b"cd"]


async def test_a_new_start_replaces_a_held_one() -> None:
    c, t, _ = cycle()
    await c.send(start(b"{}"))
    await c.send(start(b"oops"))  # what uvicorn's 500 path would send after a failure
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
    assert all(b"set-cookie" not in w for w in t.writes)


async def test_a_wrong_length_is_left_to_uvicorn() -> None:
    c, _, _ = cycle()
    message = start(b"{}")
    message["headers"][-1] = (b"content-length", b"5")
    await c.send(message)
    with pytest.raises(RuntimeError, match="shorter"):
        await c.send({"type": "http.response.body", "body": b"{}"})


async def test_names_not_in_lower_case_are_left_to_uvicorn() -> None:
    c, t, done = cycle()
    await c.send(start(b"{}", (b"X-Plugin", b"1")))
    await c.send({"type": "http.response.body", "body": b"{}"})
    assert len(t.writes) == 2  # uvicorn's path: head, then body
    assert b"\r\nx-plugin: 1\r\n" in t.writes[0] and t.writes[1] == b"{}" and done == [1]


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


async def test_no_content_answers_are_not_held() -> None:
    c, t, _ = cycle()
    await c.send({"type": "http.response.start", "status": 204, "headers": [(b"x-a", b"1")]})
    assert len(t.writes) == 1
