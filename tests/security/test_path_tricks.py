"""Reaching the admin API or a model route without a key through another spelling of its path.

Percent-encoding, ``//``, ``/./``, ``..``, case, ``;`` parameters, encoded NUL, absolute-form
targets and trailing slashes never reach a route without its key: each spelling is either the
route itself (and its key check) or a 4xx. Before, ``/admin/keys/`` (any admin path with a
trailing slash) was answered ``307`` before any key check, to a ``Location`` built from the
client's ``Host`` (``Host: evil.example`` sent the client to ``http://evil.example/admin/keys``).
Now no spelling is redirected anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import rawhttp
from tests.support.procs import Proc, rogue_gateway, rogue_requests

MASTER = "sk-master-paths-0123"
BODY = b'{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}'


@pytest.fixture(scope="module")
def gateway(rogue_server: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("paths")
    proc = rogue_gateway(rogue_server, tmp, MASTER)
    yield proc
    proc.stop()


def spellings(path: str) -> list[str]:
    """Other spellings of ``path`` (``/a/b``) a server might take for it."""
    first, rest = path[1:].split("/", 1)
    return [
        path + "/",
        path + "/.",
        path + "%2f",
        "/" + path,
        "/." + path,
        "/x/.." + path,
        f"/{first}/./{rest}",
        f"/{first}//{rest}",
        f"/{first}%2F{rest}",
        f"/%{ord(first[0]):02x}{first[1:]}/{rest}",
        path.upper(),
        path + ";x=1",
        path + "%00",
        path + "%20",
        "http://evil.example" + path,
        "http://evil.example" + path + "/",
    ]


ADMIN = ["/admin/keys", "/admin/config", "/admin/health", "/admin/logs"]


@pytest.mark.parametrize("path", ADMIN)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_no_spelling_of_an_admin_path_is_served_or_redirected_without_a_key(
    path: str, method: str, gateway: Proc
) -> None:
    for target in spellings(path):
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: evil.example\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        reply = rawhttp.request(gateway.port, head.encode())
        assert reply is not None, target
        assert 400 <= reply.status < 500, (target, reply.status)
        assert "location" not in reply.headers, (target, reply.headers)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/v1/responses"])
def test_no_spelling_of_a_model_route_reaches_the_upstream_without_a_key(
    path: str, gateway: Proc, rogue: Proc
) -> None:
    for target in spellings(path):
        reply = rawhttp.request(gateway.port, rawhttp.post(target, BODY, "Connection: close"))
        assert reply is not None, target
        assert 400 <= reply.status < 500, (target, reply.status)
        assert "location" not in reply.headers, target
    assert rogue_requests(rogue) == []


def test_the_master_key_still_reaches_the_admin_api(gateway: Proc) -> None:
    auth = {"authorization": f"Bearer {MASTER}"}
    assert httpx.get(gateway.url + "/admin/keys", headers=auth).status_code == 200
    # The trailing slash is another path, not a redirect, with the key too.
    assert httpx.get(gateway.url + "/admin/keys/", headers=auth).status_code == 404
