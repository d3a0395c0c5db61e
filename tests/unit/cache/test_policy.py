"""Which models are cached for how long, and the per-request controls."""

from __future__ import annotations

import pytest

from tests.unit.cache.helpers import DEPLOY, runtime
from turnout.cache.policy import REFRESH, SKIP, USE, CachePolicy, control
from turnout.errors import BadRequest


def test_per_model_ttl_true_false_number_and_patterns() -> None:
    rt = runtime(
        {
            "on": {"deployments": DEPLOY, "cache": True},
            "off": {"deployments": DEPLOY, "cache": False},
            "short": {"deployments": DEPLOY, "cache": 5},
            "unset": {"deployments": DEPLOY},
            "claude-*": {"deployments": DEPLOY, "cache": 60},
        },
        ttl=100,
    )
    policy = CachePolicy(rt)
    assert policy.enabled
    assert [policy.ttl(m) for m in ("on", "off", "short", "unset")] == [100, None, 5, None]
    assert policy.ttl("claude-3") == 60
    assert policy.ttl("nope") is None


def test_default_caches_models_without_a_setting() -> None:
    rt = runtime({"unset": {"deployments": DEPLOY}, "off": {"deployments": DEPLOY, "cache": False}},
                 default=True)  # fmt: skip
    policy = CachePolicy(rt)
    assert policy.ttl("unset") == 3600 and policy.ttl("off") is None


def test_disabled_when_no_model_is_cached() -> None:
    assert not CachePolicy(runtime({"m": {"deployments": DEPLOY}})).enabled


@pytest.mark.parametrize(
    ("headers", "mode"),
    [
        ({}, USE),
        ({b"x-turnout-cache": b"skip"}, SKIP),
        ({b"x-turnout-cache": b"Refresh "}, REFRESH),
        ({b"x-turnout-cache": b"use"}, USE),
        ({b"cache-control": b"no-store"}, SKIP),
        ({b"cache-control": b"no-cache"}, REFRESH),
        ({b"cache-control": b"max-age = 0"}, REFRESH),
        ({b"cache-control": b"private, No-Cache"}, REFRESH),
        ({b"cache-control": b"max-age=60"}, USE),
        # The gateway's own header wins over Cache-Control.
        ({b"cache-control": b"no-store", b"x-turnout-cache": b"refresh"}, REFRESH),
    ],
)
def test_request_controls(headers: dict[bytes, bytes], mode: str) -> None:
    assert control(headers) == mode


def test_unknown_control_value_is_a_400() -> None:
    with pytest.raises(BadRequest):
        control({b"x-turnout-cache": b"sometimes"})
