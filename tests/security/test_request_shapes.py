"""Issue 12 item 4: wrong types on translated routes.

Before: 49 of 83 wrong-type bodies (``content: 123``, ``messages: "x"``, ``system: 5``,
``tools: "x"``, ``parts: "x"``, ``generationConfig: "x"``…) crashed a translator with a plain
500, logged as status 0 and without ``x-should-retry: false``, so every SDK call became three;
``stream: "yes"`` gave a 502 marked retryable. Now each is a 400 in the client's own protocol
that names the field, with ``x-should-retry: false``, and nothing is sent upstream.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.security import bodies
from tests.support.procs import Proc, start_gateway

UPSTREAMS = {"openai": "openai-compatible", "anthropic": "anthropic", "gemini": "gemini"}


def shapes_config(mock: Proc, cache: bool = False) -> dict[str, Any]:
    """A provider of each upstream type on the mock, and a model per provider (cached, when
    asked: the cache reads the request too)."""

    def provider(kind: str) -> dict[str, Any]:
        base = mock.url + ("/v1" if kind in ("openai", "openai-compatible") else "")
        return {"type": kind, "base_url": base, "api_keys": ["sk-up-000001"]}

    kinds = [*UPSTREAMS.values(), "openai"]
    providers: dict[str, Any] = {f"p-{kind}": provider(kind) for kind in kinds}
    providers["p-mock"] = {"type": "mock"}
    models = {
        f"to-{name[2:]}": {"cache": cache, "deployments": [{"provider": name, "model": "up"}]}
        for name in providers
    }
    return {
        "routing": {"max_attempts": 1},
        "storage": {"enabled": False},
        "providers": providers,
        "models": models,
    }


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(shapes_config(mock), tmp_path_factory.mktemp("shapes"))
    yield proc
    proc.stop()


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


# (client protocol, path in its base body, wrong value, the field the 400 must name)
CASES = [
    ("openai", ("messages", 2, "content"), 123, "messages[2].content"),
    ("openai", ("messages",), "x", "messages"),
    ("openai", ("tools",), "x", "tools"),
    ("openai", ("messages", 3, "tool_calls", 0, "function", "arguments"), 5, "arguments"),
    ("openai", ("max_tokens",), "32", "max_tokens"),
    ("openai", ("stop",), 5, "stop"),
    ("openai", ("stream",), "yes", "stream"),
    ("anthropic", ("system",), 5, "system"),
    ("anthropic", ("messages", 0, "content"), 123, "messages[0].content"),
    ("anthropic", ("messages", 0, "content", 0, "text"), ["x"], "messages[0].content[0].text"),
    ("anthropic", ("tools",), "x", "tools"),
    ("anthropic", ("metadata",), "abc", "metadata"),
    ("anthropic", ("stream",), "yes", "stream"),
    ("gemini", ("contents", 0, "parts"), "x", "contents[0].parts"),
    ("gemini", ("generationConfig",), "x", "generationConfig"),
    ("gemini", ("generationConfig", "maxOutputTokens"), "32", "generationConfig.maxOutputTokens"),
    ("gemini", ("systemInstruction",), 5, "systemInstruction"),
    (
        "gemini",
        ("contents", 1, "parts", 0, "functionCall"),
        "x",
        "contents[1].parts[0].functionCall",
    ),
]
TARGET = {"openai": "to-anthropic", "anthropic": "to-gemini", "gemini": "to-openai-compatible"}


@pytest.mark.parametrize(("client", "path", "value", "field"), CASES)
def test_a_wrong_type_is_a_400_naming_the_field(
    gateway: Proc, mock: Proc, client: str, path: tuple[Any, ...], value: Any, field: str
) -> None:
    model = TARGET[client]
    data = _set(bodies.body(client, model), path, value)
    before = httpx.get(mock.url + "/_mock/stats").json()["requests"]
    with httpx.Client(base_url=gateway.url, timeout=15) as http:
        reply = bodies.send(http, client, model, data)
    assert reply.status_code == 400, reply.text
    assert reply.headers["x-should-retry"] == "false"
    message = bodies.error_message(client, reply.json())
    assert field in message
    assert httpx.get(mock.url + "/_mock/stats").json()["requests"] == before


@pytest.mark.parametrize("client", ["openai", "anthropic", "gemini", "responses"])
@pytest.mark.parametrize("target", ["to-openai-compatible", "to-anthropic", "to-gemini"])
def test_the_untouched_bodies_are_served(gateway: Proc, client: str, target: str) -> None:
    with httpx.Client(base_url=gateway.url, timeout=15) as http:
        reply = bodies.send(http, client, target, bodies.body(client, target))
    assert reply.status_code == 200, reply.text


def test_nothing_crashed_inside_the_gateway(gateway: Proc) -> None:
    output = gateway.output()
    assert "request shape not caught" not in output
    assert "request failed" not in output and "Traceback" not in output


@pytest.mark.parametrize("target", ["to-openai-compatible", "to-anthropic"])
def test_a_body_too_deep_to_forward_is_a_400(gateway: Proc, target: str) -> None:
    """orjson parses 1024 levels but writes 255: a deeper body used to be a 500 wherever the
    gateway re-encodes it (renaming the model, translating)."""
    deep: Any = {}
    for _ in range(300):
        deep = {"a": deep}
    data = bodies.body("openai", target)
    data["tools"][0]["function"]["parameters"] = deep  # forwarded (or translated) as it is
    with httpx.Client(base_url=gateway.url, timeout=15) as http:
        reply = bodies.send(http, "openai", target, data)
    assert reply.status_code == 400, reply.text
    assert "nested too deeply" in bodies.error_message("openai", reply.json())
