"""URLs as the gateway shows them: in the admin API, status reports, log lines and errors.

A destination's URL may carry a credential: ``http://user:token@host/`` or
``https://mcp.example.com/mcp?api_key=...`` (hosted MCP servers and agents often take their
key that way, and some providers' base URLs do). Connections use the URL as configured; every
place that *shows* one goes through :func:`display_url` (or :func:`scrub_urls` for a text,
such as an exception message, that may contain URLs), which keeps the scheme, host, port and
path, shows userinfo as ``***@`` and every query value as ``***``, and drops the fragment.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

HIDDEN = "***"
# A URL inside free text: a scheme, "://", then anything up to whitespace or a quote.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def display_url(url: str) -> str:
    """``url`` without the credentials it may carry (see the module's docstring)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid url>"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = (f"{HIDDEN}@" if "@" in parts.netloc else "") + host
    if port is not None:
        netloc = f"{netloc}:{port}"
    out = f"{parts.scheme}://{netloc}{parts.path}"
    if parts.query:
        names = (pair.partition("=")[0] for pair in parts.query.split("&") if pair)
        out += "?" + "&".join(f"{name[:64]}={HIDDEN}" for name in names)
    return out


def scrub_urls(text: str) -> str:
    """``text`` with every URL in it shown as :func:`display_url` shows it."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: display_url(m.group(0)), text)
