"""The admin API under arbitrary JSON: every writable route, one to three values of a valid
body replaced by anything JSON can carry (integers beyond 64 bits, lone UTF-16 surrogates,
``NaN``), never gets a 5xx, and the stores behind it keep working.

Before: ``rpm: 10**30`` or a surrogate in a key's models was a 503 ("the key store is
unavailable"), a surrogate in a provider's or model's name a 500 (docs/security.md).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.jsontree import paths, trees
from tests.support.procs import Proc, mock_provider, start_gateway

MASTER = "admin-fuzz-master-key-0123456789"
ADMIN = {"authorization": f"Bearer {MASTER}", "content-type": "application/json"}
EXAMPLES = 60  # per route: about 500 requests in all, ~10 s

# (method, path, a valid body); {key} is a key created by the fixture.
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/admin/keys", {"name": "fz", "rpm": 10, "models": ["*"], "metadata": {"a": "b"}}),
    ("PATCH", "/admin/keys/{key}", {"tpm": 100, "budget": 5, "expires_in": "30d"}),
    ("POST", "/admin/teams", {"name": "fz-team", "max_parallel": 2, "models": ["gpt-*"]}),
    (
        "POST",
        "/admin/providers",
        {
            "name": "fz-provider",
            "type": "openai-compatible",
            "base_url": "https://api.example.com/v1",
            "api_keys": ["sk-fuzz-000000000001"],
        },
    ),
    ("POST", "/admin/models", {"name": "fz-model", "deployments": [{"provider": "up"}]}),
    ("POST", "/admin/credentials", {"provider": "up", "api_key": "sk-fuzz-000000000002"}),
    ("PUT", "/admin/agents/fz-agent", {"url": "https://agent.example.com", "agent_rpm": 5}),
    ("POST", "/admin/mcp/servers", {"name": "fz-server", "url": "https://mcp.example.com/mcp"}),
]

# What a store or an encoder behind the admin API refuses though Python's json reads it: a
# third of the leaves, so a dozen examples per route meet them.
hostile = st.sampled_from(
    [2**64, 10**30, -(2**63) - 1, float("nan"), float("inf"), "\ud800", "x\udfff", "1e400"]
)
leaves = st.one_of(
    hostile,
    hostile,
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=12),
)
json_values = trees(leaves, max_leaves=8)


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    data = copy.deepcopy(body)
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)  # not even an object, now and then
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(paths(data))))
        target = data
        for key in path[:-1]:
            target = target[key]
        if isinstance(target, dict) and draw(st.integers(0, 3)) == 0:
            target[draw(st.text(max_size=8))] = draw(json_values)  # a field it lacks
        else:  # mostly one value, sometimes a whole tree
            target[path[-1]] = draw(leaves if draw(st.integers(0, 2)) else json_values)
    return data


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {"up": mock_provider(mock)},
        "models": {"m": {"deployments": [{"provider": "up", "model": "x"}]}},
        "logging": {"requests": False},
    }
    proc = start_gateway(
        config, tmp_path_factory.mktemp("admin-fuzz"), env={"TURNOUT_MASTER_KEY": MASTER}
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def http(gateway: Proc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers=ADMIN, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def key_id(http: httpx.Client) -> str:
    created = http.post("/admin/keys", json={"name": "fuzzed"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[r[1] for r in ROUTES])
def test_arbitrary_json_never_gets_a_5xx(
    http: httpx.Client, key_id: str, method: str, path: str, body: dict[str, Any]
) -> None:
    url = path.format(key=key_id)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=mutated(body))
    def check(data: Any) -> None:
        raw = json.dumps(data)  # NaN, Infinity and \ud800 escapes as a client may send them
        reply = http.request(method, url, content=raw)
        assert reply.status_code < 500, (raw[:300], reply.status_code, reply.text[:300])

    check()
    assert http.get("/admin/keys").status_code == 200  # the key store still answers
    assert http.get(f"/admin/keys/{key_id}").status_code == 200


def test_nothing_failed_inside(gateway: Proc) -> None:
    output = gateway.output()
    assert "Exception in ASGI application" not in output and "Traceback" not in output
