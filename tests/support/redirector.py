"""A small HTTP server that redirects, for the outbound policy's tests.

    python -m tests.support.redirector --host 127.0.0.2 --port N --to http://127.0.0.3:M

Every request (any method, any path) is answered ``302 Location: <to><path>``, except
``GET /ok`` (200 ``ok``), ``GET /big`` (200, 2 MB) and ``/to?url=U`` (302 to ``U``). Each
request is printed as ``request METHOD PATH`` so a test can count them.
"""

from __future__ import annotations

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def handler_for(to: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            print(f"request {self.command} {self.path}", flush=True)
            n = int(self.headers.get("content-length") or 0)
            if n:
                self.rfile.read(n)
            parts = urlsplit(self.path)
            if parts.path == "/ok":
                self._send(200, b"ok")
            elif parts.path == "/big":
                self._send(200, b"x" * 2_000_000)
            elif parts.path == "/to":
                self._redirect(parse_qs(parts.query)["url"][0])
            else:
                self._redirect(to + self.path)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("location", location)
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--to", default="http://127.0.0.1")
    a = ap.parse_args()
    server = ThreadingHTTPServer((a.host, a.port), handler_for(a.to))
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
