"""An upstream MCP server that quotes the credential the gateway sent it.

Some servers quote what they were sent: an error naming the token it refused, a debug tool
echoing its request's headers. Before (2026-12-08) such an answer reached any key allowed the
tool as it came, the gateway's own token for the server in it, and the request log's ``error``
kept it. Now every answer of an upstream has each credential the gateway sends it replaced by
``[redacted]`` (``turnout/mcp/echoes.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.mcp_gateway.conftest import ADMIN, MASTER, gateway_config, wait_states
from tests.mcp_gateway.test_gateway import connect, texts
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until_async

pytestmark = pytest.mark.timeout(120)
TOKEN = "upstream-bearer-token-0123456789"
HEADER = "upstream-header-value-9876543210"


@pytest.fixture(scope="module")
def quoted(mock: Proc, alpha: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = gateway_config(
        mock,
        {
            "alpha": {
                "url": f"{alpha.url}/mcp",
                "auth": {"type": "bearer", "token": TOKEN},
                "headers": {"x-team-secret": HEADER},
            }
        },
        outbound={"allow": ["localhost"]},
        logging={"requests": True},
    )
    proc = start_gateway(
        config, tmp_path_factory.mktemp("mcp-echo"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    wait_states(proc, {"alpha": "up"})
    yield proc
    proc.stop()


async def test_a_quoted_credential_is_masked(quoted: Proc) -> None:
    admin = httpx.AsyncClient(base_url=quoted.url, headers=ADMIN, timeout=10)
    async with admin:
        key = (await admin.post("/admin/keys", json={"name": "caller"})).json()["key"]
        async with connect(quoted, key=key) as client:
            answer = texts(await client.call_tool("alpha__credential", {}))
            assert answer == ["you sent Bearer [redacted]"], answer
            with pytest.raises(MCPError) as refused:
                await client.call_tool("alpha__credential", {"fail": True})
            assert TOKEN not in refused.value.message
            assert "rejected credential: Bearer [redacted]" in refused.value.message
        logs: list[str] = []

        async def logged() -> bool:  # both calls' rows, the refused one with its error
            logs[:] = [(await admin.get("/admin/logs")).text]
            return logs[0].count("alpha__credential") >= 2

        await until_async(logged, limit=30)
        assert "rejected credential" in logs[0] and TOKEN not in logs[0]
