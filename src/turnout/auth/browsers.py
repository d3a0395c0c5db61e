"""What a web page may not do with a gateway whose authentication is off.

With no master key and no gateway key, whoever reaches the port may use every provider key
and the admin API; binding to loopback (the default) is what keeps others out. A web page in
the operator's browser reaches loopback too:

- by DNS rebinding: ``attacker.example`` first resolves to the attacker's server, whose page
  then has it resolve to ``127.0.0.1``; the page's requests are same-origin to the browser and
  reach the gateway with ``Host: attacker.example:4141``, so the page reads the admin API, the
  request log and the answers;
- by a cross-site request: a form or ``fetch`` POSTs ``text/plain`` JSON to
  ``http://127.0.0.1:4141/v1/chat/completions`` (no preflight), spending the provider keys.

So while authentication is off, a request that reached the gateway on a loopback address
must name a loopback host (``localhost``, ``*.localhost``, a loopback IP), or one listed in
``server.allowed_hosts``; and if it carries an ``Origin`` (every browser request that could be
cross-site does; SDKs send none), that origin's host must be one of them too. Otherwise a 403
in the path's protocol. A connection to another address (a gateway opened to a network on
purpose) is left as configured. With authentication on, nothing here runs: keys are the
guard, and a page cannot present one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from turnout.api.io import request_id, send_error
from turnout.errors import PermissionDenied
from turnout.protocols.registry import dialect
from turnout.types import Scope, Send

if TYPE_CHECKING:
    from turnout.state import GatewayState

_LOOPBACK_NAMES = ("localhost", "localhost.")
_REBINDING = (
    "Authentication is off, so this gateway serves only requests addressed to it as "
    "localhost or by a loopback address; this one names {!r}. A web page could otherwise use "
    "it through DNS rebinding. Set a master key or create a key, or list the name in "
    "server.allowed_hosts."
)
_CROSS_SITE = (
    "Authentication is off, so this gateway refuses requests from web pages of other "
    "origins ({!r}): any page its user opens could otherwise use it. Set a master key or "
    "create a key, or list the host in server.allowed_hosts."
)


def _loopback_ip(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_of(authority: str) -> str:
    """``host`` of ``host[:port]`` (IPv6 in brackets), lower case."""
    if authority.startswith("["):
        return authority[: authority.find("]") + 1].lower()
    return authority.rpartition(":")[0].lower() if ":" in authority else authority.lower()


class BrowserGuard:
    """Built from ``server.allowed_hosts``: exact names, or ``*.suffix`` for a domain."""

    __slots__ = ("_exact", "_suffixes")

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        names = [a.strip().lower() for a in allowed if a.strip()]
        self._exact = frozenset(n for n in names if not n.startswith("*."))
        self._suffixes = tuple(n[1:] for n in names if n.startswith("*."))

    def trusted(self, host: str) -> bool:
        """Whether a page could not have been given ``host`` by someone else's DNS."""
        if host in _LOOPBACK_NAMES or host.endswith(".localhost") or _loopback_ip(host):
            return True
        return host in self._exact or host.endswith(self._suffixes)

    def refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> PermissionDenied | None:
        """Why a request that reached an open gateway is refused, or None."""
        server = scope.get("server")
        if not server or not _loopback_ip(str(server[0])):
            return None  # not a loopback connection: the network was opened on purpose
        host = headers.get(b"host")
        if host is not None:
            name = _host_of(host.decode("latin-1"))
            if not self.trusted(name):
                return PermissionDenied(_REBINDING.format(name[:100]))
        origin = headers.get(b"origin")
        if origin is not None and origin != b"null":
            text = origin.decode("latin-1")
            try:
                name = (urlsplit(text).hostname or "").lower()
            except ValueError:
                name = ""
            if not self.trusted(name):
                return PermissionDenied(_CROSS_SITE.format(text[:100]))
        elif origin == b"null":  # a sandboxed frame or a file: page, never an SDK
            return PermissionDenied(_CROSS_SITE.format("null"))
        return None


class PageGuard:
    """The app's guard: a :class:`BrowserGuard` for the configured ``server.allowed_hosts``,
    made again when a reload changes them."""

    __slots__ = ("_allowed", "_guard")

    def __init__(self) -> None:
        self._allowed: object = None
        self._guard = BrowserGuard()

    async def refused(self, state: GatewayState, scope: Scope, send: Send) -> bool:
        """Whether the request was refused (its 403 sent, in its path's protocol)."""
        allowed = state.runtime.config.server.allowed_hosts
        if allowed is not self._allowed:
            self._allowed, self._guard = allowed, BrowserGuard(allowed)
        headers = dict(scope["headers"])
        err = self._guard.refusal(scope, headers)
        if err is None:
            return False
        await send_error(send, err, dialect(scope["path"]).name, request_id(headers))
        return True
