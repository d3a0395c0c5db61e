"""The one transfer coding the gateway reads on a request: a lone ``chunked``.

RFC 9112 §6.1: a server that receives a request with a transfer coding it does not understand
SHOULD answer 501 (Not Implemented), and §6.3: one whose final coding is not ``chunked`` MUST
be answered 400 and its connection closed, since its body's length cannot be known. llhttp
refuses the second but read ``Transfer-Encoding: gzip, chunked`` (or ``identity, chunked``,
``chunked;x=1``) as plain chunked and handed the application a body still in a coding nobody
decoded, which a proxy in front may have framed differently: the request smuggling setup.

So the ``Transfer-Encoding`` lines of a request (joined, as a list) must be exactly one
``chunked``, spelled in any case with optional whitespace. Otherwise: 400 for a list that is
malformed (an empty element, an element that is not a token, ``chunked`` twice or not last),
501 for a well-formed list naming a coding the gateway does not implement. Either is written
by the protocol (``turnout.server.protocol``) in the request path's error shape, and the
connection closed. The messages are fixed texts: they never quote the client's bytes.
"""

from __future__ import annotations

import re

from turnout.errors import BadRequest, GatewayError, TransferCodingNotImplemented

HEADER = b"transfer-encoding"
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9a-z-]+")  # RFC 9110 §5.6.2, lowercased
_CHUNKED = b"chunked"


def refusal(codings: bytes) -> GatewayError | None:
    """None for a lone ``chunked``; else the error the request gets. ``codings`` is the
    request's ``Transfer-Encoding`` lines joined with commas."""
    parts = [part.strip(b" \t").lower() for part in codings.split(b",")]
    if parts == [_CHUNKED]:
        return None
    names = [part.split(b";", 1)[0].rstrip(b" \t") for part in parts]
    if not all(_TOKEN.fullmatch(name) for name in names):
        return BadRequest("Malformed HTTP request: the Transfer-Encoding list is not valid")
    if names[-1] != _CHUNKED or _CHUNKED in names[:-1]:
        return BadRequest(
            "Malformed HTTP request: chunked must be the final transfer coding, applied once"
        )
    return TransferCodingNotImplemented(
        "Transfer codings other than chunked are not implemented: send the body chunked only"
    )


__all__ = ["HEADER", "TransferCodingNotImplemented", "refusal"]
