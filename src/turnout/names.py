"""What a client-chosen name may look like before it reaches an upstream URL, a header or a
label.

A model name is chosen by the client (the ``model`` field, or the path of a Gemini call) and
travels far: into the upstream URL (Gemini names the model in the path), into response headers
(``x-turnout-deployment``), log lines, spans and metric labels. Checking it once, where the
request is read, closes every one of those doors at the same time: a name that could change an
upstream path or query (``/``-``..`` walks, ``?``, ``#``, ``%``), split a header (CR, LF, NUL) or
fail to encode (non-ASCII) is refused with a 400 before routing. The accepted alphabet covers
real model identifiers: ``gpt-4o-2024-08-06``, ``models/gemini-2.0-flash``,
``ft:gpt-4o-mini:org:name:id``, ``meta-llama/Llama-3.1-8B-Instruct``, ``llama3.1:8b``,
``@cf/meta/llama-3-8b-instruct``, ``anthropic.claude-3-sonnet-20240229-v1:0``.

A request id (``x-request-id``) is echoed in responses and sent upstream; one that is not a
plain token is replaced by the gateway's own.

Both checks are one precompiled regex match, cheap enough for every request.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from turnout.errors import BadRequest

MAX_MODEL_NAME = 256
MAX_REQUEST_ID = 200

_MODEL = re.compile(rf"[A-Za-z0-9@][A-Za-z0-9._:/@+\-]{{0,{MAX_MODEL_NAME - 1}}}")
_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:/@+=\-]{{1,{MAX_REQUEST_ID}}}".encode())
# Characters a URL path segment may carry as they are (RFC 3986 unreserved).
_PATH_SAFE = re.compile(r"[A-Za-z0-9._~\-]*")

MODEL_RULE = (
    f"model names are 1 to {MAX_MODEL_NAME} characters: ASCII letters, digits and . _ - : / @ +, "
    "starting with a letter, a digit or @, without '..'"
)


def is_model_name(name: str) -> bool:
    """Whether ``name`` is a plausible model identifier (see the module docstring)."""
    return _MODEL.fullmatch(name) is not None and ".." not in name


def check_model_name(name: str, param: str = "model") -> str:
    """``name`` itself, or a 400 naming the rule (never echoing the name: it may be hostile)."""
    if _MODEL.fullmatch(name) is None or ".." in name:
        raise BadRequest(f"Invalid model name: {MODEL_RULE}", param=param)
    return name


def is_request_id(value: bytes) -> bool:
    """Whether a client's ``x-request-id`` may be echoed and forwarded as it is."""
    return _REQUEST_ID.fullmatch(value) is not None


def path_segment(value: str) -> str:
    """``value`` percent-encoded as one URL path segment: ``/``, ``?``, ``#``, ``%`` and ``:``
    can never change the path, query or fragment of the URL it is put in; nor can a segment
    that is all dots (``.``, ``..``: a URL normaliser or a SigV4 signer would remove it, or the
    segment before it), whose dots are encoded."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    if _PATH_SAFE.fullmatch(value) is not None:
        return value
    return quote(value, safe="")


__all__ = [
    "MAX_MODEL_NAME",
    "MODEL_RULE",
    "check_model_name",
    "is_model_name",
    "is_request_id",
    "path_segment",
]
