"""What the gateway knows about one wire protocol, in one object: :class:`WireProtocol`.

Each protocol folder (``protocols/<name>/``) builds one in its ``spec.py`` from its own modules
(request, response and stream codecs to and from the IR, error shapes, usage reader, cache
normaliser, routes, probe request) and :mod:`turnout.protocols.registry` lists it. Everything
else looks protocols up there: translation (:mod:`turnout.providers.translate`), the cache,
usage accounting, the health probe, error rendering and the app's routes. Lookups happen when
something is built (a route, a provider) or cost one dict lookup, as the tables they replace
did; nothing on the request path walks the registry.

An operation *family* names what a request does whatever its protocol calls it (``chat``,
``messages`` and ``generateContent`` are all ``generate``): translation maps families between
protocols, the cache keys on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from turnout.errors import BadRequest

if TYPE_CHECKING:
    from turnout.errors import GatewayError
    from turnout.ir import ErrorInfo, IRRequest, IRResponse, StreamEvent
    from turnout.ir import Usage as IRUsage
    from turnout.protocols.policy import Harmless
    from turnout.types import Call, Scope, Usage
    from turnout.usage.base import StreamObserver

JSON = dict[str, Any]
GENERATE, COUNT, EMBED, EMBED_BATCH = "generate", "count", "embed", "embed-batch"
# OpenAI's other operations (legacy text completions, moderation, images, speech,
# transcription): only an upstream of the same protocol serves them, their bytes forwarded as
# they came (the model renamed); a provider of another protocol refuses them with a 400. Their
# answers are never cached: completions and images are sampled (and an image URL expires), a
# moderation verdict belongs to a model that changes under its alias, audio is binary.
COMPLETE, MODERATE, IMAGE, SPEECH, TRANSCRIBE = (
    "complete",
    "moderate",
    "image",
    "speech",
    "transcribe",
)
SAME_PROTOCOL = frozenset({COMPLETE, MODERATE, IMAGE, SPEECH, TRANSCRIBE})
TRANSLATABLE = frozenset({GENERATE, COUNT})  # families that cross protocols through the IR
CACHEABLE = frozenset({GENERATE, EMBED, EMBED_BATCH})  # families whose answers are cached
# Families whose answers generate no tokens: a limit or budget reserves their input only.
NO_OUTPUT = frozenset({EMBED, EMBED_BATCH, MODERATE})

# (parsed body, ASGI scope) -> (public model, stream?)
Locate = Callable[[dict[str, Any], "Scope"], tuple[str, bool]]


class Decoder(Protocol):
    """Upstream stream bytes -> IR events, incrementally."""

    def feed(self, chunk: bytes) -> list[StreamEvent]: ...
    def finish(self) -> list[StreamEvent]: ...


class Encoder(Protocol):
    """IR events -> the client's stream bytes, incrementally."""

    def feed(self, event: StreamEvent) -> list[bytes]: ...
    def finish(self) -> list[bytes]: ...


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # as the protocol calls it: "chat", "messages", "generateContent"
    family: str  # GENERATE, COUNT, EMBED, EMBED_BATCH
    otel: str | None = None  # gen_ai.operation.name (None: the name itself)
    form: bool = False  # a multipart/form-data body (protocols/form.py), not JSON


@dataclass(frozen=True, slots=True)
class EmbedCodec:
    """Embeddings from this protocol's client to another protocol's upstream, mapped directly
    (no IR: a list of texts in, a list of vectors out). ``request`` raises BadRequest naming a
    client field; ``response`` raises ValueError on an upstream answer it cannot read."""

    request: Callable[[Call, str], dict[str, Any]]  # (call, upstream model) -> upstream body
    response: Callable[[Call, dict[str, Any]], tuple[dict[str, Any], IRUsage | None]]


@dataclass(frozen=True, slots=True)
class Route:
    """One inbound operation: which operation a path serves and how to find its model and
    stream flag in the request; ``usage`` reads the usage of a whole answer when it is not
    where the protocol keeps it (None: the protocol's ``usage_from_body``)."""

    operation: str
    locate: Locate
    usage: Callable[[bytes], Usage | None] | None = None
    # (raw body, request headers) -> (fields, body to forward), for a body that is not JSON
    # (a form); None: parsed as JSON and re-encoded canonically (api/endpoint.py).
    parse: Callable[[bytes, dict[bytes, bytes]], tuple[dict[str, Any], bytes]] | None = None
    # A stream that is not the protocol's own kind (OpenAI's image, speech and transcription
    # events; binary audio): how its usage is read and what it ends with. None: the
    # protocol's ``usage_observer`` and ``stream_terminator``.
    stream: StreamForm | None = None


@dataclass(frozen=True, slots=True)
class StreamForm:
    """How one operation's stream is watched when it is not its protocol's usual stream.
    ``terminator`` None: nothing marks its end (no ``[DONE]``), so a cut is not detected."""

    observe: Callable[[Call, bool], StreamObserver]
    terminator: bytes | None = None


@dataclass(frozen=True, slots=True)
class ModelPaths:
    """Routes whose path names the model: ``<prefix><model>:<action>`` (Gemini). Matched after
    the exact-path lookup misses, so the other protocols stay one dict lookup."""

    prefixes: tuple[str, ...]
    actions: Mapping[str, Route]

    def split(self, path: str) -> tuple[str, str] | None:
        """(model, action) of a model path, or None for any other path."""
        for prefix in self.prefixes:
            if path.startswith(prefix):
                model, sep, action = path[len(prefix) :].rpartition(":")
                return (model, action) if sep else None
        return None


@dataclass(frozen=True, slots=True)
class Variant:
    """What a client's stream must look like beyond its protocol."""

    protocol: str
    model: str
    include_usage: bool = False  # OpenAI: a final usage chunk
    sse: bool = True  # Gemini: SSE frames, or one JSON array


@dataclass(frozen=True, slots=True)
class Asked:
    """What a request asks for, read from its parsed body without the IR (the limits' output
    estimate, trace attributes). Values are as sent: callers check their types."""

    max_tokens: Any = None
    temperature: Any = None
    top_p: Any = None
    # How many answers one call generates (OpenAI's ``n``, Gemini's ``candidateCount``): each
    # may use ``max_tokens``, so a budget reserves for all of them (turnout.budgets.estimate).
    choices: Any = None
    # The field that makes the answer's usage unseen by the gateway (Responses' ``background``:
    # generated after the answer, read by polling), or None: limits and budgets cannot count it.
    unmetered: str | None = None


def require_model(data: dict[str, Any]) -> str:
    """The ``model`` field of a request body that must name one (its form is checked by the
    API layer, turnout.names, before it is used)."""
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("Missing required parameter: 'model' (a non-empty string)", param="model")
    return model


def stream_flag(data: dict[str, Any]) -> bool:
    """``stream`` as the client meant it; anything but a boolean (``"yes"``, ``1``) is a 400
    rather than a guess that would disagree with what a translator sends upstream."""
    stream = data.get("stream")
    if stream is True:
        return True
    if stream is None or stream is False:
        return False
    raise BadRequest("stream: expected a boolean", param="stream")


def _input_tokens(tokens: int) -> JSON:
    return {"input_tokens": tokens}


@dataclass(frozen=True, slots=True, kw_only=True)
class WireProtocol:
    """Everything the gateway needs to know about one wire protocol."""

    name: str
    operations: tuple[Operation, ...]

    # -- inbound: the app's routes -------------------------------------------------------------
    routes: Mapping[str, Route]  # exact POST path -> route
    model_paths: ModelPaths | None = None
    claims_path: Callable[[str], bool] = lambda path: False  # an unknown path of this dialect
    stream_terminator: bytes | None = None  # what a complete stream ends with (None: nothing)
    variant: Callable[[Call], Variant]  # the stream form this client asked for

    # -- translation through the IR ------------------------------------------------------------
    # request_to_ir checks the request's shape first (protocols/<name>/shapes.py) and raises
    # ShapeError naming a field of the wrong type; check_response does the same for an
    # upstream answer before response_to_ir reads it (an answer must also be one: `choices`).
    request_to_ir: Callable[[Call], IRRequest]
    request_from_ir: Callable[[IRRequest, str], JSON]
    check_response: Callable[[JSON], None] = lambda body: None
    response_to_ir: Callable[[JSON], IRResponse]
    response_from_ir: Callable[[IRResponse, str], JSON]
    decoder: Callable[[], Decoder]
    encoder: Callable[[Variant], Encoder]
    harmless: Mapping[str, Harmless] = field(default_factory=dict)  # droppable source fields
    client_fields: Mapping[str, str] = field(default_factory=dict)  # IR field -> this dialect's
    count_request: Callable[[JSON, str], JSON] | None = None  # None: no token counting endpoint
    count_result: Callable[[int], JSON] = _input_tokens
    embed_to: Mapping[str, EmbedCodec] = field(default_factory=dict)  # upstream protocol -> codec

    # -- errors --------------------------------------------------------------------------------
    parse_error: Callable[[int, bytes], ErrorInfo]
    render_error: Callable[[ErrorInfo], tuple[int, JSON]]
    error_body: Callable[[GatewayError], bytes]
    error_frame: Callable[[GatewayError], bytes]  # in-band, after a stream has started

    # -- usage ---------------------------------------------------------------------------------
    usage_from_body: Callable[[bytes], Usage | None]  # relayed body, byte search
    usage_observer: Callable[[Call, bool], StreamObserver]  # relayed stream; bool: ask for it
    usage_from_response: Callable[[JSON], IRUsage | None]  # a parsed response body

    # -- cache ---------------------------------------------------------------------------------
    cache_fields: Callable[[Call], dict[str, Any]]  # what decides an answer
    cross_servable: Callable[[Call], bool]  # one stored answer serves stream and JSON forms
    as_sse: Callable[[list[bytes]], list[bytes] | None] | None = None  # non-SSE stream -> SSE

    # -- reading a request without the IR ------------------------------------------------------
    asked: Callable[[JSON], Asked]  # max tokens, temperature, top_p (limits, traces)
    conversation: Callable[[JSON], tuple[Any, Any]]  # (system, messages) (sticky routing)

    # -- health --------------------------------------------------------------------------------
    probe: Callable[[str], tuple[str, JSON]]  # model -> (operation, one-token request body)

    # -- derived -------------------------------------------------------------------------------
    families: Mapping[str, str] = field(init=False)  # operation -> family
    by_family: Mapping[str, str] = field(init=False)  # family -> operation
    forms: frozenset[str] = field(init=False)  # operations whose bodies are forms

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "families", MappingProxyType({o.name: o.family for o in self.operations})
        )
        object.__setattr__(
            self, "by_family", MappingProxyType({o.family: o.name for o in self.operations})
        )
        object.__setattr__(self, "forms", frozenset(o.name for o in self.operations if o.form))


__all__ = [
    "CACHEABLE",
    "COMPLETE",
    "COUNT",
    "EMBED",
    "EMBED_BATCH",
    "GENERATE",
    "IMAGE",
    "MODERATE",
    "NO_OUTPUT",
    "SAME_PROTOCOL",
    "SPEECH",
    "TRANSCRIBE",
    "TRANSLATABLE",
    "Asked",
    "Decoder",
    "EmbedCodec",
    "Encoder",
    "ModelPaths",
    "Operation",
    "Route",
    "StreamForm",
    "Variant",
    "WireProtocol",
    "require_model",
]
