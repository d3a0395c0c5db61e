"""Which calls are cached, for how long, and what the client asked for.

Per model: ``cache: true | false | <ttl seconds>`` compiled into ``ModelRoute.cache_ttl``; the
policy resolves a public model name once (exact names, then glob patterns) and remembers the
answer. Per request, headers steer a single call:

==================================  ===============================================
``x-turnout-cache: skip``        bypass: neither read nor store (``no-store`` too)
``x-turnout-cache: refresh``     do not read, store the fresh answer (``no-cache``)
``Cache-Control: no-store``         same as ``skip``
``Cache-Control: no-cache``         same as ``refresh`` (also ``max-age=0``)
==================================  ===============================================

Headers are the one control every SDK can set per request (``extra_headers`` in OpenAI and
Anthropic, ``HttpOptions(headers=...)`` in google-genai), and unlike a body field they are
never forwarded upstream, where a provider would reject an unknown parameter.
"""

from __future__ import annotations

from turnout.config.compile import Runtime
from turnout.errors import BadRequest

USE, REFRESH, SKIP = "use", "refresh", "skip"
_HEADER_VALUES = {
    b"skip": SKIP,
    b"bypass": SKIP,
    b"no-store": SKIP,
    b"refresh": REFRESH,
    b"no-cache": REFRESH,
    b"use": USE,
    b"": USE,
}
_MEMO_MAX = 10_000


class CachePolicy:
    def __init__(self, runtime: Runtime) -> None:
        self._exact = {name: r.cache_ttl for name, r in runtime.models.items()}
        self._runtime = runtime
        self.enabled = any(r.cache_ttl is not None for r in runtime.routes())

    def ttl(self, model: str) -> float | None:
        """Seconds answers of ``model`` are kept; None when it is not cached."""
        try:
            return self._exact[model]
        except KeyError:
            pass
        route = self._runtime.resolve(model)
        ttl = route.cache_ttl if route is not None else None
        if len(self._exact) < _MEMO_MAX:
            self._exact[model] = ttl
        return ttl


def control(headers: dict[bytes, bytes]) -> str:
    """What the request asks of the cache: :data:`USE`, :data:`REFRESH` or :data:`SKIP`."""
    value = headers.get(b"x-turnout-cache")
    if value is not None:
        mode = _HEADER_VALUES.get(value.strip().lower())
        if mode is None:
            raise BadRequest(
                "x-turnout-cache must be 'skip' or 'refresh' (or 'use'), "
                f"got {value.decode('latin-1')!r}"
            )
        return mode
    cc = headers.get(b"cache-control")
    if cc is None:
        return USE
    directives = {d.strip().replace(b" ", b"") for d in cc.lower().split(b",")}
    if b"no-store" in directives:
        return SKIP
    if b"no-cache" in directives or b"max-age=0" in directives:
        return REFRESH
    return USE
