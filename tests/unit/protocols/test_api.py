"""Pins what every registered protocol must offer: its folder's modules and one complete
descriptor (the gateway looks everything up there)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from turnout.protocols.descriptor import CACHEABLE, SAME_PROTOCOL, TRANSLATABLE, WireProtocol
from turnout.protocols.registry import DEFAULT, FAMILIES, PROTOCOLS, REGISTERED, dialect


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_protocol_modules_expose_the_same_api(protocol: str) -> None:
    base = f"turnout.protocols.{protocol}"
    for module, names in (
        ("request", ["to_ir", "from_ir"]),
        ("response", ["to_ir", "from_ir"]),
        ("stream", ["StreamDecoder", "StreamEncoder"]),
        ("errors", ["render", "render_stream", "parse", "gateway_body", "gateway_frame"]),
    ):
        mod = importlib.import_module(f"{base}.{module}")
        for name in names:
            assert callable(getattr(mod, name)), f"{base}.{module}.{name}"
    stream = importlib.import_module(f"{base}.stream")
    for cls in (stream.StreamDecoder, stream.StreamEncoder):
        assert {"feed", "finish"} <= {n for n, _ in inspect.getmembers(cls)}


def test_the_registry_holds_one_descriptor_per_folder() -> None:
    assert [f"turnout.protocols.{name}.spec" for name in PROTOCOLS] == list(REGISTERED)
    assert DEFAULT in PROTOCOLS
    for name, wire in PROTOCOLS.items():
        assert isinstance(wire, WireProtocol) and wire.name == name
        # every operation is routed, and every route serves a declared operation
        routed = {r.operation for r in wire.routes.values()}
        if wire.model_paths is not None:
            routed |= {r.operation for r in wire.model_paths.actions.values()}
        assert routed == set(wire.families), name
        # each family crosses protocols, is cached, or passes through to its own protocol
        known = TRANSLATABLE | CACHEABLE | SAME_PROTOCOL
        assert {FAMILIES[(name, op)] for op in wire.families} <= known
        assert not SAME_PROTOCOL & (TRANSLATABLE | CACHEABLE)
        operation, body = wire.probe("m")
        assert operation in wire.families and isinstance(body, dict)


def test_unknown_paths_answer_in_the_dialect_they_look_like() -> None:
    assert dialect("/v1/messages/nope").name == "anthropic"
    assert dialect("/v1beta/nope").name == "gemini"
    assert dialect("/v1/models/x:nope").name == "gemini"
    assert dialect("/v1/nope").name == DEFAULT
