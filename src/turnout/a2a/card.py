"""Agent cards: where an agent's JSON-RPC endpoint is, and the card callers see.

The card a caller gets from the gateway is the agent's own with three changes: every
interface points at the gateway (``/a2a/{name}``), only the JSON-RPC binding is offered (the
one the gateway relays), and the agent's security schemes are replaced by the gateway's (a
gateway key as a bearer token; none while authentication is off). Signatures are dropped: they
signed a card that is no longer the one served. Both card versions are handled: 1.0
(``supportedInterfaces``, ``securityRequirements``) and 0.3 (``url``, ``preferredTransport``,
``additionalInterfaces``, ``security``).
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

GATEWAY_SCHEME = "turnout"
_GATEWAY_DOC = "A Turnout gateway key, sent as 'Authorization: Bearer <key>'."


def _is_jsonrpc(binding: Any) -> bool:
    return isinstance(binding, str) and binding.upper() == "JSONRPC"


def _http_url(url: Any) -> str | None:
    if isinstance(url, str) and url.startswith(("http://", "https://")) and len(url) <= 2048:
        return url
    return None


def rpc_url_of(card: dict[str, Any]) -> str | None:
    """The agent's JSON-RPC endpoint as its card names it (1.0's interfaces first)."""
    interfaces = card.get("supportedInterfaces")
    if isinstance(interfaces, list):
        for iface in interfaces:
            if isinstance(iface, dict) and _is_jsonrpc(iface.get("protocolBinding")):
                url = _http_url(iface.get("url"))
                if url is not None:
                    return url
    preferred = card.get("preferredTransport", "JSONRPC")
    if _is_jsonrpc(preferred) and (url := _http_url(card.get("url"))) is not None:
        return url
    extra = card.get("additionalInterfaces")
    if isinstance(extra, list):
        for iface in extra:
            if isinstance(iface, dict) and _is_jsonrpc(iface.get("transport")):
                url = _http_url(iface.get("url"))
                if url is not None:
                    return url
    return None


def same_origin(a: str, b: str) -> bool:
    try:
        sa, sb = urlsplit(a), urlsplit(b)
        return (sa.scheme, sa.hostname, sa.port) == (sb.scheme, sb.hostname, sb.port)
    except ValueError:  # a port out of range, a broken IPv6 literal
        return False


def on_origin(named: str, base: str) -> str | None:
    """The path (and query) a card names, on the configured ``base`` URL's origin: a card says
    where on the agent its endpoint is, never which host the gateway connects to. None when
    ``named`` does not parse."""
    try:
        card, conf = urlsplit(named), urlsplit(base)
    except ValueError:
        return None
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in card.path + card.query):
        return None
    path = card.path or "/"
    return f"{conf.scheme}://{conf.netloc}{path}" + (f"?{card.query}" if card.query else "")


def rewrite(card: dict[str, Any], url: str, secured: bool) -> dict[str, Any]:
    """The card as the gateway serves it at ``url`` (a deep copy; the cached card is kept)."""
    out = copy.deepcopy(card)
    out.pop("signatures", None)
    modern = "supportedInterfaces" in out or "url" not in out
    if modern:
        version = "1.0"
        interfaces = out.get("supportedInterfaces")
        if isinstance(interfaces, list):
            for iface in interfaces:
                if isinstance(iface, dict) and _is_jsonrpc(iface.get("protocolBinding")):
                    got = iface.get("protocolVersion")
                    version = got if isinstance(got, str) and got else version
                    break
        out["supportedInterfaces"] = [
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": version}
        ]
    # 0.3's fields, in a 0.3 card and in a card of both versions (the a2a-sdk serves a card
    # offering 1.0 and 0.3 with both sets of fields): before (2026-12-07) a card of both kept
    # 0.3's ``url`` and ``additionalInterfaces``, the agent's own address, which a 0.3
    # client reads, and so called the agent directly, past the gateway.
    if not modern or "url" in out:
        out["url"] = url
        out["preferredTransport"] = "JSONRPC"
    if "additionalInterfaces" in out:
        out["additionalInterfaces"] = [{"url": url, "transport": "JSONRPC"}]
    for key in ("securitySchemes", "securityRequirements", "security"):
        out.pop(key, None)
    skills = out.get("skills")
    if isinstance(skills, list):
        for skill in skills:
            if isinstance(skill, dict):
                skill.pop("securityRequirements", None)
                skill.pop("security", None)
    if secured:
        if modern:
            out["securitySchemes"] = {
                GATEWAY_SCHEME: {
                    "httpAuthSecurityScheme": {"scheme": "Bearer", "description": _GATEWAY_DOC}
                }
            }
            out["securityRequirements"] = [{"schemes": {GATEWAY_SCHEME: {"list": []}}}]
        else:
            out["securitySchemes"] = {
                GATEWAY_SCHEME: {"type": "http", "scheme": "bearer", "description": _GATEWAY_DOC}
            }
            out["security"] = [{GATEWAY_SCHEME: []}]
    return out
