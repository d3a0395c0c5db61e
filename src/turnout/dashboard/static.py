"""Serving the dashboard's files at ``/ui``: from the installed package, from memory.

The files are read once, on the first request (a few hundred kB), with their ETags; every
answer carries a strict Content-Security-Policy: scripts only from this origin (the inline
import map is allowed by its hash), no inline styles or handlers, no framing, and no string
given to an HTML sink (Trusted Types). Nothing here is on the model-call path: the gateway
reaches it only after its route table missed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from turnout.api.io import send_bytes
from turnout.types import Receive, Scope, Send

PREFIX = "/ui"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
_INLINE = re.compile(rb"<script type=\"importmap\">(.*?)</script>", re.S)


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: bytes


def load_assets() -> dict[str, Asset]:
    """Every file under ``static/`` by its URL path below ``/ui/``."""
    root = resources.files("turnout.dashboard") / "static"
    assets: dict[str, Asset] = {}

    def walk(node: resources.abc.Traversable, prefix: str) -> None:
        for child in node.iterdir():
            name = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, f"{name}/")
                continue
            suffix = "." + child.name.rsplit(".", 1)[-1] if "." in child.name else ""
            if suffix not in _TYPES:
                continue
            body = child.read_bytes()
            etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
            assets[name] = Asset(body, _TYPES[suffix], etag)

    walk(root, "")
    return assets


def policy(index: bytes) -> bytes:
    """The Content-Security-Policy: the index's inline import map is allowed by its hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(m).digest()).decode()}'"
        for m in _INLINE.findall(index)
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        "style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
        # Trusted Types with no policy: a string given to an HTML sink (innerHTML,
        # insertAdjacentHTML, document.write) throws instead of becoming markup. Preact puts
        # every string into text nodes; this makes a page that ever did otherwise fail loudly.
        "require-trusted-types-for 'script'; trusted-types 'none'"
    ).encode()


class StaticSite:
    """The ASGI app answering ``/ui`` and everything below it."""

    def __init__(self) -> None:
        self._assets: dict[str, Asset] | None = None
        self._headers: list[tuple[bytes, bytes]] = []

    def _load(self) -> dict[str, Asset]:
        if self._assets is None:
            assets = load_assets()
            index = assets.get("index.html")
            self._headers = [
                (b"content-security-policy", policy(index.body if index else b"")),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"),
                (b"x-frame-options", b"DENY"),
                (b"cross-origin-opener-policy", b"same-origin"),
            ]
            self._assets = assets
        return self._assets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path == PREFIX:
            await send_bytes(send, 308, [(b"location", f"{PREFIX}/".encode())], b"")
            return
        assets = self._load()  # a refusal carries the policy too
        if scope["method"] not in ("GET", "HEAD"):
            await send_bytes(send, 405, [*self._headers, (b"allow", b"GET, HEAD")], b"")
            return
        name = path[len(PREFIX) + 1 :] or "index.html"
        asset = assets.get(name)
        if asset is None:
            missing = [*self._headers, (b"content-type", b"text/plain")]
            await send_bytes(send, 404, missing, b"Not found\n")
            return
        headers = [
            *self._headers,
            (b"content-type", asset.content_type.encode()),
            (b"etag", asset.etag),
            (b"cache-control", b"no-cache"),
        ]
        request_headers = dict(scope["headers"])
        if request_headers.get(b"if-none-match") == asset.etag:
            await send_bytes(send, 304, headers, b"")
            return
        if scope["method"] == "HEAD":
            headers.append((b"content-length", str(len(asset.body)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send_bytes(send, 200, headers, asset.body)
