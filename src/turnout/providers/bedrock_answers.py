"""What Bedrock answers, re-shaped as Anthropic's (:mod:`turnout.providers.bedrock` asks).

An error (``{"message": …}``, the exception named in ``x-amzn-ErrorType``) becomes Anthropic's
error body, read whole under a 1 MiB bound; a Converse answer becomes an Anthropic message; an
AWS event stream is re-framed as Anthropic's SSE one upstream read at a time. Each wraps the
upstream response and is one itself, so the relay reads them like any other answer.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import orjson

from turnout.errors import UpstreamUnavailable
from turnout.protocols.shape import ShapeError
from turnout.providers import converse
from turnout.providers.eventstream import (
    MAX_MESSAGE,
    EventStreamDecoder,
    EventStreamError,
    Message,
)
from turnout.providers.relay import invalid
from turnout.upstream.base import UpstreamResponse

# Bedrock's exceptions, as Anthropic's error types (what an Anthropic client's SDK expects).
_KINDS = {
    "throttlingexception": "rate_limit_error",
    "servicequotaexceededexception": "rate_limit_error",
    "modelnotreadyexception": "overloaded_error",
    "serviceunavailableexception": "overloaded_error",
    "validationexception": "invalid_request_error",
    "accessdeniedexception": "permission_error",
    "unrecognizedclientexception": "authentication_error",
    "invalidsignatureexception": "authentication_error",
    "expiredtokenexception": "authentication_error",
    "resourcenotfoundexception": "not_found_error",
    "modeltimeoutexception": "timeout_error",
}
_BY_STATUS = {400: "invalid_request_error", 401: "authentication_error",
              403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}  # fmt: skip
_ERROR_BODY_MAX = 1024 * 1024


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for k, v in headers:
        if k == name:
            return v.decode("latin-1")
    return ""


def _relabel(headers: list[tuple[bytes, bytes]], content_type: bytes) -> list[tuple[bytes, bytes]]:
    out = [(k, v) for k, v in headers if k not in (b"content-type", b"content-length")]
    out.append((b"content-type", content_type))
    return out


def error_body(status: int, aws_type: str, message: str) -> bytes:
    """A Bedrock error in Anthropic's shape, Bedrock's exception name kept beside it."""
    name = aws_type.split(":", 1)[0].strip()  # "ThrottlingException:http://internal..."
    kind = (
        _KINDS.get(name.lower())
        or _BY_STATUS.get(status)
        or ("overloaded_error" if status in (503, 529) else "api_error")
    )
    err = {"type": kind, "message": message, "bedrock_error_type": name}
    return orjson.dumps({"type": "error", "error": err})


class ErrorResponse:
    """An error answer, rewritten whole (bounded) into Anthropic's error shape."""

    def __init__(self, resp: UpstreamResponse, provider: str) -> None:
        self._resp = resp
        self._provider = provider
        self.status = resp.status
        self.headers = _relabel(resp.headers, b"application/json")
        self._body: bytes | None = None

    async def read(self) -> bytes:
        if self._body is None:
            size, parts = 0, []
            async for chunk in self._resp.iter_chunks():
                size += len(chunk)
                if size > _ERROR_BODY_MAX:
                    self._resp.close()
                    raise invalid(self._provider, "error body larger than 1 MiB")
                parts.append(chunk)
            raw = b"".join(parts)
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = None
            message = ""
            if isinstance(data, dict):
                found = data.get("message", data.get("Message"))
                message = found if isinstance(found, str) else ""
            if not message:
                message = raw[:500].decode("utf-8", "replace")
            aws_type = _header(self._resp.headers, b"x-amzn-errortype")
            self._body = error_body(self.status, aws_type, message)
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield await self.read()

    def close(self) -> None:
        self._resp.close()


class ConverseResponse:
    """A Converse answer (bounded like any body read whole) as an Anthropic message."""

    def __init__(self, resp: UpstreamResponse, provider: str, model: str) -> None:
        self._resp = resp
        self._provider = provider
        self._model = model
        self.status = resp.status
        self.headers = _relabel(resp.headers, b"application/json")

    async def read(self) -> bytes:
        size, parts = 0, []
        async for chunk in self._resp.iter_chunks():
            size += len(chunk)
            if size > MAX_MESSAGE:
                self._resp.close()
                raise invalid(self._provider, "a Converse answer larger than 16 MiB")
            parts.append(chunk)
        try:
            data = orjson.loads(b"".join(parts))
            return orjson.dumps(converse.response(data, self._model))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            raise invalid(self._provider, "not a Converse answer") from None
        except ShapeError as exc:  # a Converse answer, but with parts of the wrong types
            raise invalid(self._provider, f"a Converse answer with {exc}") from None

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield await self.read()

    def close(self) -> None:
        self._resp.close()


# The HTTP status of each exception Bedrock may send inside a stream (its API reference): an
# exception that comes first is answered with it, so the router classifies it as if Bedrock
# had refused the request outright (a throttling fails over as a rate limit).
_STREAM_STATUS = {
    "throttlingexception": 429,
    "servicequotaexceededexception": 429,
    "validationexception": 400,
    "modeltimeoutexception": 408,
    "modelstreamerrorexception": 424,
    "modelerrorexception": 424,
    "internalserverexception": 500,
    "serviceunavailableexception": 503,
    "modelnotreadyexception": 503,
}
_MAX_SILENT = 1024  # messages in a row with nothing for the client: no Bedrock stream sends them
_NAME_MAX = 100


def _exception(message: Message) -> tuple[str, str]:
    """An exception message's name (a printable token, bounded) and its text."""
    name = message.header(":exception-type") or message.header(":error-code")
    name = name[:_NAME_MAX] if name.isascii() and name.isprintable() else ""
    try:
        found = orjson.loads(message.payload).get("message")
    except (orjson.JSONDecodeError, AttributeError):
        found = None
    return name, found if isinstance(found, str) else "upstream stream error"


class _Refused:
    """A stream whose first message was an exception, answered as the error it is."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = _relabel(headers, b"application/json")
        self._body = body

    async def read(self) -> bytes:
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield self._body

    def close(self) -> None:
        pass


class StreamResponse:
    """An event stream, re-framed as Anthropic's SSE one upstream read at a time:
    InvokeModel's ``chunk`` events carry Anthropic's own events, ConverseStream's are mapped
    (``framer``).

    :meth:`opened` reads up to the first message: a stream that opens with an exception is
    answered as that exception's error. An exception later is Anthropic's ``event: error`` when
    it has an Anthropic error type, else the upstream's failure (502); so is a stream whose
    messages give the client nothing :data:`_MAX_SILENT` times in a row (an upstream that
    floods frames of no known kind would otherwise hold the client, and a core, until the
    attempt's total timeout)."""

    def __init__(
        self, resp: UpstreamResponse, provider: str, framer: converse.StreamFramer | None = None
    ) -> None:
        self._resp = resp
        self._provider = provider
        self._framer = framer
        self.status = resp.status
        self.headers = _relabel(resp.headers, b"text/event-stream")
        self._chunks = resp.iter_chunks()
        self._decoder = EventStreamDecoder()
        self._first: list[Message] = []
        self._silent = 0

    def _feed(self, data: bytes) -> list[Message]:
        try:
            return self._decoder.feed(data)
        except EventStreamError as exc:
            self._resp.close()
            raise invalid(self._provider, f"event stream: {exc}") from None

    async def opened(self) -> UpstreamResponse:
        """This stream, or the error its first message is."""
        try:
            async for data in self._chunks:
                self._first = self._feed(data)
                if self._first:
                    break
        except BaseException:  # cancelled (the client left), or the stream is not one
            await self._aclose()
            self._resp.close()
            raise
        first = self._first[0] if self._first else None
        if first is None or first.header(":message-type") not in ("exception", "error"):
            return self
        await self._aclose()
        self._resp.close()
        name, text = _exception(first)
        status = _STREAM_STATUS.get(name.lower(), 502)
        return _Refused(status, self._resp.headers, error_body(status, name, text))

    async def _aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            messages, self._first = self._first, []
            while True:
                out = b"".join([self._frame(m.header(":message-type"), m) for m in messages])
                if out:
                    yield out
                data = await anext(self._chunks, None)
                if data is None:
                    break
                messages = self._feed(data)
            if self._decoder.pending:  # cut inside a message: the decoders see a truncated stream
                raise invalid(self._provider, "event stream cut inside a message")
            if self._framer is not None and (tail := self._finish(self._framer)):
                yield tail  # a ConverseStream that ended without its metadata event
        finally:
            await self._aclose()

    def _finish(self, framer: converse.StreamFramer) -> bytes:
        try:
            return framer.finish()
        except ValueError as exc:  # a tool call's arguments cut short
            raise invalid(self._provider, f"a ConverseStream with {exc}") from None

    def _frame(self, kind: str, message: Message) -> bytes:
        out = self._message(kind, message)
        if out:
            self._silent = 0
        else:
            self._silent += 1
            if self._silent > _MAX_SILENT:
                self._resp.close()
                raise invalid(self._provider, f"{_MAX_SILENT} event-stream messages of no use")
        return out

    def _message(self, kind: str, message: Message) -> bytes:
        if kind == "event" and self._framer is not None:
            try:
                found = orjson.loads(message.payload)
                if not isinstance(found, dict):
                    raise TypeError("not an object")
                return self._framer.feed(message.header(":event-type"), found)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
                raise invalid(self._provider, "a ConverseStream event that is not one") from None
        if kind == "event" and message.header(":event-type") == "chunk":
            try:
                inner = orjson.loads(base64.b64decode(orjson.loads(message.payload)["bytes"]))
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                raise invalid(self._provider, "a chunk event without a JSON event") from None
            if not isinstance(inner, dict) or not isinstance(inner.get("type"), str):
                raise invalid(self._provider, "a chunk event without an event type")
            event: bytes = inner["type"].encode()
            return b"event: " + event + b"\ndata: " + orjson.dumps(inner) + b"\n\n"
        if kind in ("exception", "error"):
            name, text = _exception(message)
            status = _STREAM_STATUS.get(name.lower(), 502)
            body = orjson.loads(error_body(status, name, text))
            if body["error"]["type"] == "api_error":  # no Anthropic type says what it was
                self._resp.close()
                raise UpstreamUnavailable(
                    f"upstream {self._provider} failed mid-stream ({name or 'no exception type'})"
                )
            return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"
        return b""  # an event type Anthropic's stream has no place for: skipped

    def close(self) -> None:
        self._resp.close()
