"""An upstream's lists hold only names a caller, and the model API it hands them to, can take.

The upstream (``tests/mcp_gateway/hostile_upstream.py``, the official SDK's low-level server)
lists tools and prompts named with a newline, an ANSI escape, a space, nothing, 300
characters, non-ASCII letters, a ``/``, and one name twice; resources whose URIs hold a
newline, a space or a NUL. The SDK's client, through ``/mcp`` and ``/mcp/hostile``, sees
only the valid ones, and cannot call the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from tests.mcp_gateway.conftest import MASTER, gateway_config, wait_states
from tests.mcp_gateway.test_gateway import connect, texts
from tests.support.procs import PYTHON, Proc, free_port, start_gateway

pytestmark = pytest.mark.timeout(120)
HOSTILE = str(Path(__file__).with_name("hostile_upstream.py"))


@pytest.fixture(scope="module")
def hostile() -> Iterator[Proc]:
    port = free_port()
    proc = Proc([PYTHON, HOSTILE, str(port)], port, "/mcp")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def bare() -> Iterator[Proc]:
    port = free_port()
    proc = Proc([PYTHON, HOSTILE, str(port), "bare"], port, "/mcp")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gateway(
    mock: Proc, alpha: Proc, hostile: Proc, bare: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    config = gateway_config(
        mock,
        {
            "alpha": {"url": f"{alpha.url}/mcp"},
            "hostile": {"url": f"{hostile.url}/mcp"},
            "bare": {"url": f"{bare.url}/mcp"},
        },
        outbound={"allow": ["localhost"]},
    )
    proc = start_gateway(
        config, tmp_path_factory.mktemp("mcp-lists"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    wait_states(proc, {"alpha": "up", "hostile": "up", "bare": "up"})
    yield proc
    proc.stop()


@pytest.mark.parametrize(
    ("path", "prefix", "sep"), [("/mcp", "hostile__", "+"), ("/mcp/hostile", "", "")]
)
async def test_only_valid_names_are_listed(gateway: Proc, path: str, prefix: str, sep: str) -> None:
    async with connect(gateway, path) as client:
        tools = (await client.list_tools()).tools
        names = [t.name for t in tools if t.name.startswith(prefix)]
        assert names == [f"{prefix}fine", f"{prefix}also.fine-1"]
        assert [t.input_schema for t in tools if t.name == f"{prefix}fine"] == [
            {"type": "object", "properties": {}}
        ]  # the first of two
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        assert [p for p in prompts if p.startswith(prefix)] == names
        uris = [str(r.uri) for r in (await client.list_resources()).resources]
        mine = f"{prefix.rstrip('_')}{sep}note://"
        assert [u for u in uris if u.startswith(mine)] == [f"{mine}fine"]
        assert texts(await client.call_tool(f"{prefix}fine", {})) == ["called 'fine'"]
        for bad in ("evil\nname", "with space", "naïve", "a/b"):
            with pytest.raises(MCPError):
                await client.call_tool(f"{prefix}{bad}", {})
    if path == "/mcp":  # the other server's tools are all there
        async with connect(gateway) as client:
            assert "alpha__echo" in {t.name for t in (await client.list_tools()).tools}


async def test_a_server_without_a_templates_list_is_up(gateway: Proc) -> None:
    """Before: its "Method not found" failed the whole refresh, and the server stayed down."""
    async with connect(gateway, "/mcp/bare") as client:
        assert texts(await client.call_tool("fine", {})) == ["called 'fine'"]
        assert (await client.list_resource_templates()).resource_templates == []
