"""Each wire protocol's translation functions in one table, keyed by protocol name.

:mod:`turnout.providers.translate` looks both sides of a call up here instead of branching
on protocol names, so the attempt logic is written once for all six cross-protocol cells. An
operation *family* ("generate", "count") names what a request does whatever its protocol
calls it (``chat``, ``messages``, ``generateContent``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from turnout.ir import ErrorInfo, IRRequest, IRResponse, StreamEvent
from turnout.protocols.anthropic import errors as an_err
from turnout.protocols.anthropic import request as an_req
from turnout.protocols.anthropic import response as an_resp
from turnout.protocols.anthropic import stream as an_stream
from turnout.protocols.gemini import errors as gm_err
from turnout.protocols.gemini import request as gm_req
from turnout.protocols.gemini import response as gm_resp
from turnout.protocols.gemini import stream as gm_stream
from turnout.protocols.openai import errors as oa_err
from turnout.protocols.openai import request as oa_req
from turnout.protocols.openai import response as oa_resp
from turnout.protocols.openai import stream as oa_stream
from turnout.providers.gemini import sse_requested
from turnout.types import Call

JSONObj = dict[str, Any]
GENERATE, COUNT = "generate", "count"


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> list[StreamEvent]: ...
    def finish(self) -> list[StreamEvent]: ...


class Encoder(Protocol):
    def feed(self, event: StreamEvent) -> list[bytes]: ...
    def finish(self) -> list[bytes]: ...


@dataclass(frozen=True, slots=True)
class Codec:
    """Everything translation needs to know about one wire protocol."""

    operations: dict[str, str]  # family -> this protocol's operation name
    request_to_ir: Callable[[Call], IRRequest]
    request_from_ir: Callable[[IRRequest, str], JSONObj]
    response_to_ir: Callable[[JSONObj], IRResponse]
    response_from_ir: Callable[[IRResponse, str], JSONObj]
    decoder: Callable[[], Decoder]
    encoder: Callable[[Call, IRRequest], Encoder]
    parse_error: Callable[[int, bytes], ErrorInfo]
    render_error: Callable[[ErrorInfo], tuple[int, JSONObj]]


def _gemini_to_ir(call: Call) -> IRRequest:
    data = call.data
    if call.operation == "countTokens" and isinstance(data.get("generateContentRequest"), dict):
        data = data["generateContentRequest"]
    return gm_req.to_ir(data, call.model, stream=call.stream)


CODECS: dict[str, Codec] = {
    "openai": Codec(
        {GENERATE: "chat"},
        lambda call: oa_req.to_ir(call.data),
        oa_req.from_ir,
        oa_resp.to_ir,
        oa_resp.from_ir,
        oa_stream.StreamDecoder,
        lambda call, ir: oa_stream.StreamEncoder(call.model, include_usage=ir.include_usage),
        oa_err.parse,
        oa_err.render,
    ),
    "anthropic": Codec(
        {GENERATE: "messages", COUNT: "count_tokens"},
        lambda call: an_req.to_ir(call.data),
        an_req.from_ir,
        an_resp.to_ir,
        an_resp.from_ir,
        an_stream.StreamDecoder,
        lambda call, ir: an_stream.StreamEncoder(call.model),
        an_err.parse,
        an_err.render,
    ),
    "gemini": Codec(
        {GENERATE: "generateContent", COUNT: "countTokens"},
        _gemini_to_ir,
        gm_req.from_ir,
        gm_resp.to_ir,
        gm_resp.from_ir,
        gm_stream.StreamDecoder,
        lambda call, ir: _gemini_encoder(call),
        gm_err.parse,
        gm_err.render,
    ),
}
FAMILIES: dict[tuple[str, str], str] = {
    (protocol, operation): family
    for protocol, codec in CODECS.items()
    for family, operation in codec.operations.items()
}


def _gemini_encoder(call: Call) -> Encoder:
    encoder = gm_stream.StreamEncoder(call.model)
    return encoder if sse_requested(call) else JSONArrayFraming(encoder)


class JSONArrayFraming:
    """Gemini's stream without ``alt=sse``: the same responses as one JSON array, written
    element by element (``[{..}``, ``,\\r\\n{..}``, ``]``) as the REST API does."""

    def __init__(self, inner: Encoder) -> None:
        self._inner = inner
        self._sep = b"["

    def _wrap(self, frames: list[bytes]) -> list[bytes]:
        out = []
        for frame in frames:  # b"data: {...}\n\n"
            out.append(self._sep + frame[6:-2])
            self._sep = b",\r\n"
        return out

    def feed(self, event: StreamEvent) -> list[bytes]:
        return self._wrap(self._inner.feed(event))

    def finish(self) -> list[bytes]:
        out = self._wrap(self._inner.finish())
        out.append(b"]" if self._sep != b"[" else b"[]")
        return out


__all__ = ["CODECS", "COUNT", "FAMILIES", "GENERATE", "Codec", "Decoder", "Encoder"]
