"""One upstream attempt for a call whose protocol differs from the provider's.

:meth:`HTTPProvider.send` hands every cross-protocol call here, so a new provider gets
translation by naming its protocol, paths and auth, nothing more. The client's request goes
through the IR into the provider's protocol; the answer comes back the same way: a body whole,
a stream one upstream chunk at a time (each chunk is decoded and re-encoded at once, nothing is
held back except what a codec needs, such as a Gemini function call's complete arguments).

Everything protocol-specific comes from the two sides' descriptors
(:mod:`turnout.protocols.registry`): codecs, operation families, error shapes, the names of
fields in the client's dialect, token counting. Failures keep the client's dialect: an
untranslatable request is a 400 naming the field, an upstream error body is re-rendered with its
status, and an error inside a stream is raised as the :class:`~turnout.errors.GatewayError` of
its status carrying the upstream's error (``upstream``), for the API layer to write as the
client's error frame of the same kind.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from turnout.errors import (
    AuthenticationFailed,
    BadRequest,
    GatewayError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    TranslationUnsupported,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from turnout.ir import (
    ErrorInfo,
    ErrorKind,
    IRRequest,
    IRResponse,
    StreamError,
    StreamEvent,
    TranslationError,
    UsageUpdate,
)
from turnout.ir.response import count, settle
from turnout.ir.stream import StreamStart, ToolCallStart, not_a_string, settle_start
from turnout.observability.logging import get_logger
from turnout.protocols.descriptor import (
    COUNT,
    EMBED,
    EMBED_BATCH,
    SAME_PROTOCOL,
    TRANSLATABLE,
    Decoder,
    EmbedCodec,
    Encoder,
    Variant,
)
from turnout.protocols.registry import FAMILIES, PROTOCOLS, WireProtocol
from turnout.protocols.shape import ShapeError
from turnout.providers.base import HTTPProvider, relay_headers
from turnout.providers.relay import check_status, invalid, read_body
from turnout.types import Call, Headers, Reply, derived
from turnout.usage.base import from_ir

if TYPE_CHECKING:
    from turnout.config.compile import DeploymentSpec

JSONObj = dict[str, Any]
log = get_logger("turnout.translate")
# Headers describing the upstream body, which the translated body replaces.
_BODY_HEADERS = frozenset({b"content-type", b"content-encoding", b"content-length"})
_JSON = (b"content-type", b"application/json")
_SSE = (b"content-type", b"text/event-stream")


def _field_error(exc: TranslationError, client: str) -> TranslationUnsupported:
    """The IR speaks OpenAI-like field names; the client is told its own dialect's."""
    field = exc.field
    names = PROTOCOLS[client].client_fields
    head, sep, rest = field.partition("[")
    if head in names:  # an indexed path keeps its index: messages[2].content
        field = names[head] + sep + rest
    elif (top := field.partition(".")[0]) in names:  # a sub-path is in IR terms: name the top
        field = names[top]
    return TranslationUnsupported(f"{field}: {exc.message}", param=field)


# What a codec may raise on a body whose shape no check foresaw: the request's fault (400) or
# the upstream's (502), never the gateway's 500.
_MALFORMED = (TypeError, AttributeError, KeyError, ValueError, IndexError, RecursionError)


def _unforeseen(exc: BaseException, where: str) -> BadRequest:
    """A request the shape check let through and a codec choked on: answered as the client's
    error, and logged, because the shapes (protocols/*/shapes.py) should have named it."""
    if isinstance(exc, RecursionError):
        return BadRequest("The request body is nested too deeply")
    log.warning("request shape not caught before translation", where=where, error=repr(exc)[:300])
    return BadRequest("The request body has a field of an unexpected type")


def request_ir(call: Call) -> IRRequest:
    """The call's IR, built once per call however many attempts and deployments it takes."""
    ir = call.ir
    if ir is None:
        try:
            ir = PROTOCOLS[call.protocol].request_to_ir(call)
        except TranslationError as exc:
            raise _field_error(exc, call.protocol) from None
        except ShapeError as exc:  # a wrong type where translation reads (protocols/shape.py)
            raise BadRequest(str(exc), param=exc.path or None) from None
        except _MALFORMED as exc:
            raise _unforeseen(exc, f"{call.protocol} request") from None
        call.ir = ir
    return ir


def upstream_call(call: Call, target: WireProtocol, upstream_model: str) -> Call:
    """The call as the provider's protocol would have sent it (body, operation); an empty
    operation means the target cannot count tokens (the count is then estimated).

    The client's path and query belong to the client's protocol and are not carried over.
    """
    family = FAMILIES.get((call.protocol, call.operation))
    operation = target.by_family.get(family or "")
    if (codec := _embed_codec(call, target)) is not None:
        try:
            data = codec.request(call, upstream_model)
        except _MALFORMED as exc:
            raise _unforeseen(exc, f"{call.protocol} embeddings to {target.name}") from None
        return derived(
            call,
            protocol=target.name,
            operation=target.by_family[EMBED],
            body=orjson.dumps(data),
            data=data,
            path="",
            query=b"",
        )
    if family not in TRANSLATABLE or (operation is None and family != COUNT):
        raise TranslationUnsupported(
            f"'{call.operation}' requests cannot be translated to the {target.name} protocol; "
            f"route this model to a {call.protocol} provider",
        )
    ir = request_ir(call)
    try:
        data = target.request_from_ir(ir, upstream_model)
    except TranslationError as exc:
        raise _field_error(exc, call.protocol) from None
    except _MALFORMED as exc:
        raise _unforeseen(exc, f"{call.protocol} request to {target.name}") from None
    if family == COUNT and operation is not None and target.count_request is not None:
        data = target.count_request(data, upstream_model)
    return derived(
        call,
        protocol=target.name,
        operation=operation or "",
        body=orjson.dumps(data),
        data=data,
        path="",
        query=b"",
    )


def _embed_codec(call: Call, target: WireProtocol) -> EmbedCodec | None:
    """The direct codec for an embeddings call to ``target``, when the client's protocol has
    one (Gemini to OpenAI) and the target serves embeddings; None otherwise."""
    if FAMILIES.get((call.protocol, call.operation)) not in (EMBED, EMBED_BATCH):
        return None
    if EMBED not in target.by_family:
        return None
    return PROTOCOLS[call.protocol].embed_to.get(target.name)


def _estimated_count(call: Call, shadow: Call) -> Reply:
    """OpenAI has no token counting endpoint: about four bytes of prompt JSON per token, the
    usual rule of thumb, flagged in a header so nobody mistakes it for a tokenizer's count."""
    tokens = math.ceil(len(shadow.body) / 4)
    body = orjson.dumps(PROTOCOLS[call.protocol].count_result(tokens))
    return Reply(200, [_JSON, (b"x-turnout-token-count", b"estimated")], body=body)


async def send_translated(
    provider: HTTPProvider, call: Call, deployment: DeploymentSpec, key: str
) -> Reply:
    if FAMILIES.get((call.protocol, call.operation)) in SAME_PROTOCOL:
        # Served by an upstream of the client's protocol only: refused before anything is sent.
        raise provider.unsupported(call.operation)
    upstream_model = deployment.upstream_model(call.model)
    call.translated = True
    # The deployment's API (a Responses-only model) or the provider's own protocol.
    upstream = PROTOCOLS[deployment.api] if deployment.api is not None else provider.wire
    shadow = upstream_call(call, upstream, upstream_model)
    if not shadow.operation:
        return _estimated_count(call, shadow)
    resp = await provider.exchange(shadow, upstream_model, shadow.body, key)
    spec = provider.spec
    check_status(resp, spec.name)
    headers = [h for h in relay_headers(resp.headers) if h[0] not in _BODY_HEADERS]
    client = PROTOCOLS[call.protocol]
    if call.stream and 200 <= resp.status < 300:
        variant = client.variant(call)
        headers.append(_SSE if variant.sse else _JSON)
        # The IR's own reading of the request decides the usage chunk, as it always has.
        variant = Variant(
            variant.protocol, variant.model, request_ir(call).include_usage, variant.sse
        )
        chunks = translate_stream(
            resp.iter_chunks(), upstream.decoder(), client.encoder(variant), call, spec.name
        )
        return Reply(resp.status, headers, chunks=chunks)
    raw = await read_body(resp, spec.max_response_bytes, spec.name)
    headers.append(_JSON)
    if resp.status >= 400:
        status, err = client.render_error(upstream.parse_error(resp.status, raw))
        # The upstream's status stands; only Anthropic's 529 has no meaning elsewhere.
        rendered = _encoded(err, spec.name)
        return Reply(status if resp.status == 529 else resp.status, headers, body=rendered)
    if FAMILIES[(call.protocol, call.operation)] == COUNT:
        body = client.count_result(_count_tokens(raw))
        return Reply(resp.status, headers, body=orjson.dumps(body))
    if (codec := _embed_codec(call, upstream)) is not None:
        return _embeddings_reply(codec, call, raw, spec.name, resp.status, headers)
    ir = _response_ir(upstream, raw, spec.name)
    if ir.usage is not None:
        call.usage = from_ir(ir.usage)
    try:
        out = client.response_from_ir(ir, call.model)
    except (TranslationError, *_MALFORMED) as exc:
        raise invalid(spec.name, f"the answer cannot be translated ({exc})") from None
    call.encoded = ir.usage is not None  # whole, and its usage known: nothing to re-read
    return Reply(resp.status, headers, body=_encoded(out, spec.name))


def _encoded(answer: JSONObj, provider: str) -> bytes:
    """The client's answer as JSON. orjson reads 1024 levels of nesting but writes 255: an
    upstream's tool arguments nested between the two (or nested further by the client's
    shape) cannot be written. That is the upstream's fault (502); before, the error escaped to
    the API layer's last boundary, which takes any such encode error for the client's own
    body nested too deeply (a 400 blaming the client)."""
    try:
        return orjson.dumps(answer)
    except orjson.JSONEncodeError as exc:
        raise invalid(provider, f"the answer cannot be written ({exc})") from None


def _embeddings_reply(
    codec: EmbedCodec, call: Call, raw: bytes, provider: str, status: int, headers: Headers
) -> Reply:
    """An upstream embeddings answer in the client's shape; one it cannot read is the
    upstream's failure (502)."""
    try:
        payload = orjson.loads(raw)
        if not isinstance(payload, dict):
            raise ValueError("the body is not a JSON object")
        out, usage = codec.response(call, payload)
    except orjson.JSONDecodeError:
        raise invalid(provider, "the body is not JSON") from None
    except _MALFORMED as exc:
        raise invalid(provider, f"the embeddings answer cannot be translated ({exc})") from None
    if usage is not None:
        call.usage = from_ir(usage)
    call.encoded = usage is not None  # usage known: nothing to re-read from the body
    return Reply(status, headers, body=_encoded(out, provider))


def _response_ir(codec: WireProtocol, raw: bytes, provider: str) -> IRResponse:
    """A malformed upstream body is the upstream's failure (502), never the client's: not
    JSON, not an object, a required field missing or a field of the wrong type (the
    protocol's response shape), or anything else its codec cannot read."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid(provider, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise invalid(provider, "the body is not a JSON object")
    try:
        codec.check_response(payload)
        return settle(codec.response_to_ir(payload))
    except ShapeError as exc:
        raise invalid(provider, str(exc)) from None
    except (TranslationError, *_MALFORMED) as exc:
        raise invalid(provider, f"the answer cannot be translated ({exc})") from None


def _count_tokens(raw: bytes) -> int:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        for name in ("input_tokens", "totalTokens"):
            value = payload.get(name)
            # A count as every usage reader takes it (ir.response.count); before, -5, true (1)
            # and 2**64-1 went through to the client as its prompt's size.
            if type(value) is int and count(value) == value:
                return value
    raise UpstreamUnavailable("upstream token count answer has no count")


# In-stream upstream errors, re-raised as the gateway error of the same status (its class
# names the failure in logs and decides x-should-retry); the upstream's error rides along so
# the client's error frame keeps its kind.
_STREAM_ERRORS: dict[int, type[GatewayError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    413: PayloadTooLarge,
    429: RateLimited,
    504: UpstreamTimeout,
}


def stream_error(event: StreamError) -> GatewayError:
    message = f"upstream: {event.message}"
    err = _STREAM_ERRORS.get(event.status, UpstreamUnavailable)(message)
    try:
        kind = ErrorKind(event.kind)
    except ValueError:
        return err
    err.upstream = ErrorInfo(event.status, kind, message)
    return err


async def translate_stream(
    chunks: AsyncIterator[bytes],
    decoder: Decoder,
    encoder: Encoder,
    call: Call,
    provider: str = "upstream",
) -> AsyncIterator[bytes]:
    """Decode each upstream chunk and encode its events for the client at once.

    An upstream error (an error event, or a stream cut before its terminator, which the
    decoders report as an error event) is raised after the bytes encoded before it, so the API
    layer writes the client's error frame and aborts instead of ending the stream cleanly.
    """
    calls: set[str] = set()  # the tool call ids started so far
    try:
        async for chunk in chunks:
            out, error = _encode(decoder.feed(chunk), encoder, call, calls)
            if out:
                yield b"".join(out)
            if error is not None:
                raise error
        out, error = _encode(decoder.finish(), encoder, call, calls)
        if error is None:
            out.extend(encoder.finish())
        if out:
            yield b"".join(out)
        if error is not None:
            raise error
        # Every upstream event decoded cleanly and the encoder wrote a complete stream.
        call.encoded = True
    except TranslationError as exc:
        raise UpstreamUnavailable(f"upstream stream cannot be translated: {exc}") from None
    except _MALFORMED as exc:  # a frame its decoder could not read: the upstream's fault
        raise invalid(provider, f"the stream cannot be translated ({exc})") from None
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def _encode(
    events: list[StreamEvent], encoder: Encoder, call: Call, calls: set[str]
) -> tuple[list[bytes], GatewayError | None]:
    """Each event encoded for the client; ``calls`` holds the stream's tool call ids, which
    must differ: a client pairs each tool's result with its call by id, and the Responses SDK's
    stream helper raises its own error on an id it has seen at another position (an upstream
    that started one tool block twice did that)."""
    out: list[bytes] = []
    for event in events:
        if isinstance(event, StreamError):
            return out, stream_error(event)
        if isinstance(event, UsageUpdate):
            call.usage = from_ir(event.usage)
        elif type(event) is StreamStart:
            settle_start(event)
        elif (field := not_a_string(event)) is not None:  # the upstream's wrong type: a 502
            raise ValueError(f"{field} is not a string")
        elif type(event) is ToolCallStart and event.id:
            if event.id in calls:
                raise ValueError("a tool call id given twice")
            calls.add(event.id)
        out.extend(encoder.feed(event))
    return out, None


__all__ = ["send_translated", "translate_stream", "upstream_call"]
