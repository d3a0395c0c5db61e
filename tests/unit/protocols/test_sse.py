from __future__ import annotations

from hypothesis import given, settings
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


class _LineByLine(SSEParser):
    """The parser without its whole-event fast path: every line parsed on its own."""

    def _whole_events(self, chunk: bytes, out: list[SSEEvent]) -> bytes:
        return chunk


_LINES = st.sampled_from(
    [
        b"data: x",
        b'data: {"a":1}',
        b"data:y",
        b"data: ",
        b"data",
        b"event: e",
        b"event:f",
        b"event: ",
        b": comment",
        b"id: 1",
        b"retry: 5",
        b"other: z",
        b"",
    ]
)


# Streams of events of up to three lines, with either line end, cut anywhere.
_STREAM = (
    st.lists(st.lists(_LINES, min_size=1, max_size=3), max_size=12),
    st.sampled_from([b"\n", b"\r\n"]),
    st.lists(st.integers(0, 400), max_size=12),
)


@settings(max_examples=300)
@given(*_STREAM)
def test_the_whole_event_path_reads_what_line_by_line_reads(
    events: list[list[bytes]], end: bytes, cuts: list[int]
) -> None:
    stream = b"".join(end.join(lines) + end + end for lines in events)
    chunks = split(stream, [c % (len(stream) + 1) for c in cuts])
    fast, slow = SSEParser(), _LineByLine()
    got = [e for c in chunks for e in fast.feed(c)] + fast.finish()
    want = [e for c in chunks for e in slow.feed(c)] + slow.finish()
    assert got == want


@settings(max_examples=300)
@given(*_STREAM)
def test_data_only_gives_each_events_data(
    events: list[list[bytes]], end: bytes, cuts: list[int]
) -> None:
    """What the stream decoders read (no event objects, no names) is the events' data."""
    stream = b"".join(end.join(lines) + end + end for lines in events)
    chunks = split(stream, [c % (len(stream) + 1) for c in cuts])
    named, bare = SSEParser(), SSEParser(data_only=True)
    want = [e.data for c in chunks for e in named.feed(c)] + [e.data for e in named.finish()]
    got = [d for c in chunks for d in bare.feed_data(c)] + bare.finish_data()
    assert got == want
