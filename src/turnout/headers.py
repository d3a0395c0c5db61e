"""Which headers may cross the gateway, in each direction.

The gateway is a proxy of its own (RFC 9110 §7.6): hop-by-hop and framing headers describe one
connection and are never passed on, whatever ``forward_headers`` says. Forwarding a client's
``Host``, ``Content-Length`` or ``Transfer-Encoding`` next to the gateway's own would put two
``Host`` lines or a length/encoding conflict on a pooled keep-alive connection: request
smuggling against the provider, with the gateway's key on it. The client's credentials are for
the gateway and never leave it; the headers the gateway sets itself (content type, encoding,
request id, user agent) are not doubled.

The sets are frozensets built once; a check is one hash lookup (plus a prefix test for the
``proxy-*`` family), made only for headers an operator asked to forward.
"""

from __future__ import annotations

# Connection-level: hop-by-hop (RFC 9110 §7.6.1) and the message framing.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",
        b"host",
        b"content-length",
        b"http2-settings",
    }
)
# The client's credentials for the gateway (each protocol's spelling, and cookies).
CREDENTIALS = frozenset(
    {
        b"authorization",
        b"x-api-key",
        b"x-goog-api-key",
        b"api-key",
        b"cookie",
        b"proxy-authorization",
    }
)
# Set by the gateway on every upstream request: a client's copy would contradict it (an
# ``accept-encoding: gzip`` would make the provider compress a body nobody decompresses).
GATEWAY_SET = frozenset(
    {
        b"content-type",
        b"content-encoding",
        b"accept-encoding",
        b"x-request-id",
        b"user-agent",
    }
)
NEVER_FORWARD = HOP_BY_HOP | CREDENTIALS | GATEWAY_SET

# The provider account's own rate limits: what the account (every gateway key's) has left,
# not what the caller may still send; the gateway writes the caller's own ``x-ratelimit-*``
# for a key with limits (turnout.limits.headers), which these would have doubled.
ACCOUNT_LIMITS = frozenset(
    b"x-ratelimit-%s-%s" % (kind, what)
    for kind in (b"limit", b"remaining", b"reset")
    for what in (b"requests", b"tokens", b"project-tokens", b"project-requests")
) | frozenset(
    b"anthropic-ratelimit-%s-%s" % (what, kind)
    for what in (b"requests", b"tokens", b"input-tokens", b"output-tokens")
    for kind in (b"limit", b"remaining", b"reset")
)
# Who the provider account is: the operator's organisation and project, no client's business.
ACCOUNT_IDS = frozenset((b"openai-organization", b"openai-project", b"anthropic-organization-id"))

# Addressed to a browser, about the origin that answers: the gateway's own, the dashboard's
# too. An upstream's would act on the whole origin (``clear-site-data`` signs the operator out,
# ``access-control-*`` opens answers to other sites, ``nel``/``report-to`` send the origin's
# requests to the upstream's collector, ``refresh`` and ``link`` send a browser elsewhere).
BROWSER_POLICY = frozenset(
    {
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-allow-headers",
        b"access-control-allow-methods",
        b"access-control-allow-private-network",
        b"access-control-expose-headers",
        b"access-control-max-age",
        b"clear-site-data",
        b"strict-transport-security",
        b"expect-ct",
        b"public-key-pins",
        b"public-key-pins-report-only",
        b"refresh",
        b"link",
        b"nel",
        b"report-to",
        b"reporting-endpoints",
        b"permissions-policy",
        b"feature-policy",
        b"document-policy",
        b"require-document-policy",
        b"cross-origin-opener-policy",
        b"cross-origin-opener-policy-report-only",
        b"cross-origin-embedder-policy",
        b"cross-origin-embedder-policy-report-only",
        b"cross-origin-resource-policy",
        b"origin-agent-cluster",
        b"service-worker-allowed",
        b"timing-allow-origin",
        b"referrer-policy",
        b"x-xss-protection",
        b"x-dns-prefetch-control",
        b"x-permitted-cross-domain-policies",
        b"accept-ch",
        b"critical-ch",
        b"speculation-rules",
        b"supports-loading-mode",
        b"set-login",
        b"origin-trial",
    }
)

# Addressed to a reverse proxy or a CDN in front of the gateway: nginx serves an internal
# location for ``x-accel-redirect``, Apache and lighttpd a file for ``x-sendfile``; a shared
# cache keeps what ``public``/``s-maxage``/``expires`` make cacheable (an answer to a key,
# given to the next caller of the URL). The gateway writes its own where it needs them
# (streams' ``cache-control: no-cache``, ``x-accel-buffering: no``).
PROXY_POLICY = frozenset(
    {
        b"x-accel-redirect",
        b"x-accel-buffering",
        b"x-accel-charset",
        b"x-accel-expires",
        b"x-accel-limit-rate",
        b"x-sendfile",
        b"x-lighttpd-send-file",
        b"x-lighttpd-send-tempfile",
        b"x-litespeed-location",
        b"x-litespeed-cache-control",
        b"surrogate-control",
        b"surrogate-key",
        b"cdn-cache-control",
        b"cloudflare-cdn-cache-control",
        b"cache-control",
        b"expires",
        b"pragma",
        b"age",
    }
)

# Never relayed from an upstream response to the client: hop-by-hop, recomputed by the
# server (length, date), or about the provider's own session with the gateway or its account.
NEVER_RELAY = (
    ACCOUNT_LIMITS
    | ACCOUNT_IDS
    # Hop-by-hop and framing (a request's ``expect`` and ``host`` never come back, and the
    # HTTP/2 upgrade's settings are a request's too), then what the gateway's server writes
    # itself (date, server), the provider's session with the gateway and its request id
    # (relayed as ``x-upstream-request-id``).
    | BROWSER_POLICY
    | PROXY_POLICY
    | (HOP_BY_HOP - {b"expect", b"host", b"http2-settings"})
    | frozenset(
        {
            b"date",
            b"server",
            b"set-cookie",
            b"x-request-id",
            # A URL in the upstream's space, where a client would resolve it in the gateway's
            # (a 3xx never reaches the client at all: turnout.providers.relay).
            b"location",
            b"content-location",
            b"alt-svc",
            b"via",
            b"proxy-authenticate",
            b"www-authenticate",
            # Written by the gateway on every answer of the model API (turnout.api.inert); an
            # upstream's would otherwise cost the server a pass to drop them.
            b"content-security-policy",
            b"content-security-policy-report-only",
            b"x-content-type-options",
            b"x-frame-options",
        }
    )
)


def forwardable(name: bytes) -> bool:
    """Whether a client header (lower-case name) may be forwarded upstream at all."""
    return name not in NEVER_FORWARD and not name.startswith(b"proxy-")


__all__ = [
    "BROWSER_POLICY",
    "CREDENTIALS",
    "HOP_BY_HOP",
    "NEVER_FORWARD",
    "NEVER_RELAY",
    "PROXY_POLICY",
    "forwardable",
]
