"""A console log line never prints a caller's control characters as they are.

A refused push-notification URL is logged with its path (``outbound connection refused``);
the console renderer printed a string without spaces as it was, so an ANSI escape in that
path reached the operator's terminal (``ESC[1A ESC[2K``: move up and erase the line above,
``ESC[2J``: clear the screen), and a newline in a message started a line of its own
(docs/security.md, "Control characters in console log lines").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.a2a.conftest import MASTER, gateway_config
from tests.a2a.test_gateway import rpc, send_params
from tests.support.procs import Proc, start_gateway
from tests.support.wait import until

pytestmark = pytest.mark.timeout(60)

ESCAPES = "\x1b[1A\x1b[2K\x1b[31mFORGED\x9b2J"


@pytest.fixture(scope="module")
def console_gateway(
    mock: Proc, quick_agent: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    config = gateway_config(
        mock, {"quick": {"url": quick_agent.url}}, logging={"format": "console"}
    )
    proc = start_gateway(
        config, tmp_path_factory.mktemp("console"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


def test_a_callers_escape_sequences_are_escaped_on_the_console(console_gateway: Proc) -> None:
    first = rpc(
        console_gateway,
        "quick",
        {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": send_params("ask: p")},
    )
    task_id = first.json()["result"]["task"]["id"]
    params = {"taskId": task_id, "url": f"http://10.9.8.7/hook{ESCAPES}", "token": "t"}
    payload = {"jsonrpc": "2.0", "id": 2, "method": "CreateTaskPushNotificationConfig"}
    refused = rpc(console_gateway, "quick", {**payload, "params": params})
    assert refused.status_code == 403, refused.text

    until(lambda: "outbound connection refused" in console_gateway.output(), 10, 0.05)
    output = console_gateway.output()
    line = next(x for x in output.splitlines() if "outbound connection refused" in x)
    assert "\x1b" not in output and "\x9b" not in output, repr(line)
    assert "hook\\x1b[1A\\x1b[2K\\x1b[31mFORGED\\x9b2J" in line  # still readable, escaped
