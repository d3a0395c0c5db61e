"""The wire protocols the gateway speaks: one registration each.

Adding a protocol is a folder ``protocols/<name>/`` whose ``spec.py`` defines ``PROTOCOL`` (a
:class:`~turnout.protocols.descriptor.WireProtocol`) and one line in :data:`REGISTERED`. The
tables below are built once at import, from the descriptors, so the request path looks a
protocol up with one dict lookup, as it looked up the per-subsystem tables they replace.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from turnout.protocols.descriptor import WireProtocol

REGISTERED: tuple[str, ...] = (
    "turnout.protocols.openai.spec",
    "turnout.protocols.anthropic.spec",
    "turnout.protocols.gemini.spec",
    "turnout.protocols.responses.spec",
)
DEFAULT = "openai"  # the dialect of a path no protocol claims (an unknown route's 404)


def _load(module: str) -> WireProtocol:
    protocol = importlib.import_module(module).PROTOCOL
    if not isinstance(protocol, WireProtocol):
        raise TypeError(f"{module}.PROTOCOL is not a WireProtocol")
    return protocol


def _build(modules: tuple[str, ...]) -> Mapping[str, WireProtocol]:
    protocols: dict[str, WireProtocol] = {}
    paths: dict[str, str] = {}
    for module in modules:
        p = _load(module)
        if p.name in protocols:
            raise ValueError(f"protocol {p.name!r} is registered twice")
        for path in p.routes:
            if path in paths:
                raise ValueError(f"route {path} belongs to both {paths[path]} and {p.name}")
            paths[path] = p.name
        protocols[p.name] = p
    return MappingProxyType(protocols)


PROTOCOLS: Mapping[str, WireProtocol] = _build(REGISTERED)
# (protocol, operation) -> family, for the request path (one lookup, as before).
FAMILIES: Mapping[tuple[str, str], str] = MappingProxyType(
    {(p.name, op): family for p in PROTOCOLS.values() for op, family in p.families.items()}
)


def dialect(path: str) -> WireProtocol:
    """The protocol an unknown path belongs to, so its 404 parses in the caller's SDK."""
    for protocol in PROTOCOLS.values():
        if protocol.claims_path(path):
            return protocol
    return PROTOCOLS[DEFAULT]


__all__ = ["DEFAULT", "FAMILIES", "PROTOCOLS", "REGISTERED", "WireProtocol", "dialect"]
