"""Pins the public surface every protocol package must offer (the gateway relies on it)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from turnout.protocols import PROTOCOLS


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_protocol_modules_expose_the_same_api(protocol: str) -> None:
    base = f"turnout.protocols.{protocol}"
    for module, names in (
        ("request", ["to_ir", "from_ir"]),
        ("response", ["to_ir", "from_ir"]),
        ("stream", ["StreamDecoder", "StreamEncoder"]),
        ("errors", ["render", "render_stream", "parse"]),
    ):
        mod = importlib.import_module(f"{base}.{module}")
        for name in names:
            assert callable(getattr(mod, name)), f"{base}.{module}.{name}"
    stream = importlib.import_module(f"{base}.stream")
    for cls in (stream.StreamDecoder, stream.StreamEncoder):
        assert {"feed", "finish"} <= {n for n, _ in inspect.getmembers(cls)}
