"""A broken MCP server for the gateway's fault tests: it completes the handshake and lists
one tool, then answers that tool's calls with malformed JSON-RPC.

``python tests/mcp_gateway/rogue.py PORT MODE``: MODE ``bad-result`` answers tools/call with a
result of the wrong shape, ``garbage`` with bytes that are not JSON, ``no-handshake`` answers
even ``initialize`` with garbage, ``huge`` answers tools/call with a valid result of
:data:`HUGE` bytes of text, ``gzip`` with a small valid result compressed although the
gateway asks for none; ``unending`` lists pages of tools without end. Plain JSON
responses (no SSE), no session id.
"""

from __future__ import annotations

import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = "bad-result"
HUGE = 200 * 1024 * 1024
PAGE = 50_000  # tools per page of ``unending``


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(405, b"")

    def do_DELETE(self) -> None:
        self._send(200, b"")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        message = json.loads(raw)
        method, rid = message.get("method"), message.get("id")
        if rid is None:  # a notification
            self._send(202, b"")
            return
        if MODE == "no-handshake" or (MODE == "garbage" and method == "tools/call"):
            self._send(200, b"{this is not json")
            return
        result: object
        if method == "initialize":
            result = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "rogue", "version": "0"},
            }
        elif method == "tools/list" and MODE == "unending":
            self._page(rid, message.get("params") or {})
            return
        elif method == "tools/list":
            result = {"tools": [{"name": "broken", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call" and MODE == "huge":
            self._huge(rid)
            return
        elif method == "tools/call" and MODE == "gzip":
            result = {"content": [{"type": "text", "text": "small"}]}
            body = gzip.compress(
                json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}).encode()
            )
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-encoding", "gzip")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        elif method == "tools/call":
            result = {"content": "not a list", "isError": "maybe"}
        else:
            result = {}
        body = json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}).encode()
        self._send(200, body)

    def _huge(self, rid: object) -> None:
        """A valid answer of HUGE bytes of text, written in pieces (never held whole here)."""
        head = json.dumps(
            {"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": ""}]}}
        )
        cut = head.index('"text": ""') + len('"text": "')
        prefix, suffix = head[:cut].encode(), head[cut:].encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("transfer-encoding", "chunked")  # no length to refuse up front
        self.end_headers()
        piece = b"x" * (1024 * 1024)
        try:
            for part in (prefix, *[piece] * (HUGE // len(piece)), suffix):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway stopped reading: what it should do

    def _page(self, rid: object, params: dict[str, object]) -> None:
        """A page of :data:`PAGE` small tools (about 3 MB), and a cursor to one more, always."""
        page = int(str(params.get("cursor") or "0"))
        tools = [{"name": f"t{page}_{i}", "inputSchema": {"type": "object"}} for i in range(PAGE)]
        result = {"tools": tools, "nextCursor": str(page + 1)}
        self._send(200, json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}).encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    global MODE
    port, MODE = int(sys.argv[1]), sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
