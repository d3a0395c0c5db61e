"""uvicorn (loop=uvloop, http=httptools) serving the raw ASGI proxy app.

PORT=18080 UPSTREAM=127.0.0.1:18000 PROXY_CLIENT=custom python uvicorn_server.py
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import uvicorn
from asgi_proxy import app

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "18080")),
        loop="uvloop",
        # uvicorn-gw: the gateway's own protocol (limits, one write per sized answer)
        http=os.environ.get("HTTP_PROTOCOL", "httptools"),
        proxy_headers="HTTP_PROTOCOL" not in os.environ,  # off, as the gateway runs it
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=4096,
    )
