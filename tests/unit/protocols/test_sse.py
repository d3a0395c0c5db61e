from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.protocols.helpers import split
from turnout.protocols.sse import SSEEvent, SSEParser, frame

STREAM = (
    b": keep-alive\n\n"
    b'event: message_start\r\ndata: {"a":1}\r\n\r\n'
    b'data:{"b":2}\n\n'
    b"id: 7\nretry: 100\ndata: line1\ndata: line2\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent("message_start", b'{"a":1}'),
    SSEEvent(None, b'{"b":2}'),
    SSEEvent(None, b"line1\nline2"),
    SSEEvent(None, b"[DONE]"),
]


def _parse(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    out = [e for c in chunks for e in parser.feed(c)]
    return out + parser.finish()


def test_parses_crlf_comments_event_names_and_multiline_data() -> None:
    assert _parse([STREAM]) == EXPECTED


@given(st.lists(st.integers(0, len(STREAM)), max_size=30))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    assert _parse(split(STREAM, cuts)) == EXPECTED


def test_crlf_split_between_cr_and_lf() -> None:
    data = b"data: x\r\n\r\n"
    assert _parse([data[:8], data[8:10], data[10:]]) == [SSEEvent(None, b"x")]


def test_unterminated_last_event_is_flushed_at_finish() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: tail") == []
    assert parser.finish() == [SSEEvent(None, b"tail")]


def test_event_name_resets_after_dispatch() -> None:
    events = _parse([b"event: a\ndata: 1\n\ndata: 2\n\n"])
    assert events == [SSEEvent("a", b"1"), SSEEvent(None, b"2")]


def test_frame() -> None:
    assert frame(b"{}") == b"data: {}\n\n"
    assert frame(b"{}", "ping") == b"event: ping\ndata: {}\n\n"
