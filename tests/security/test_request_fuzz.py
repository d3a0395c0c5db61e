"""Issue 12 item 4, as a property: arbitrary JSON at every inbound protocol x upstream provider
type pair never gets a 5xx, never hangs, and is always answered in the client's own shape.

The client protocols are Chat Completions, Anthropic Messages, Gemini and the Responses API
(whose ``input`` items, ``instructions``, ``tools`` and ``text.format`` translation reads),
each example sent to one of the routes that read such a body (bodies.ROUTES: token counts,
Gemini's streams with and without SSE).
Each example takes the protocol's rich valid request (tests/security/bodies.py), replaces one to
three of its values, anywhere in the tree, with arbitrary JSON (sometimes adds keys, sometimes
replaces the whole body), and sends it to a real gateway in front of the mock provider, one
model per upstream type (OpenAI, OpenAI-compatible, Anthropic, Gemini, the in-process mock),
every model cached (the cache reads the request on every route, translated or not).
Same-protocol pairs forward the bytes; the mock provider then judges them like the real API.
At the end the gateway's log must show no request that slipped past the shape checks.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security import bodies
from tests.security.jsontree import paths, trees
from tests.security.test_request_shapes import shapes_config
from tests.support.procs import Proc, start_gateway

TARGETS = ["to-openai", "to-openai-compatible", "to-anthropic", "to-gemini", "to-mock"]
EXAMPLES = 15  # per pair: 20 pairs, about 300 requests in all

leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["text", "image", "tool_use", "tool_result", "function", "user", "model"])
)
json_values = trees(leaves, max_leaves=10)


@st.composite
def mutated(draw: st.DrawFn, protocol: str, model: str) -> Any:
    data = bodies.body(protocol, model)
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)  # not even an object, now and then
    for _ in range(draw(st.integers(1, 3))):
        options = list(paths(data, skip=("model",)))  # the model name has its own tests
        if draw(st.booleans()):  # half the time a top-level field: every reader looks there
            options = [p for p in options if len(p) == 1] or options
        path = draw(st.sampled_from(options))
        target = data
        for key in path[:-1]:
            target = target[key]
        if draw(st.booleans()) and isinstance(target, dict):
            target[draw(st.text(max_size=8))] = draw(json_values)  # an extra key beside it
        else:
            target[path[-1]] = draw(json_values)
    return copy.deepcopy(data)


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(shapes_config(mock, cache=True), tmp_path_factory.mktemp("fuzz"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def http(gateway: Proc) -> Iterator[httpx.Client]:
    # The timeout is the "never hangs" bound: the mock answers at once.
    with httpx.Client(base_url=gateway.url, timeout=20) as client:
        yield client


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini", "responses"])
def test_arbitrary_json_never_gets_a_5xx(http: httpx.Client, protocol: str, target: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=mutated(protocol, target), route=st.sampled_from(bodies.ROUTES[protocol]))
    def check(data: Any, route: str) -> None:
        reply = bodies.send(http, protocol, target, data, route)
        assert reply.status_code < 500, (reply.status_code, reply.text[:500])
        if reply.status_code >= 400:
            bodies.error_message(protocol, reply.json())

    check()


def test_no_request_slipped_past_the_shape_checks(gateway: Proc) -> None:
    output = gateway.output()
    assert "request shape not caught" not in output
    assert "request failed" not in output and "Traceback" not in output
