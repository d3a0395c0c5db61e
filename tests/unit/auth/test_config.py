"""The ``auth`` and ``limits`` config sections."""

from __future__ import annotations

from turnout.config.validate import validate


def test_defaults() -> None:
    config, problems = validate({})
    assert config is not None and not problems
    assert config.auth.master_key is None and config.auth.refresh_interval == 0.5
    assert (config.limits.backend, config.limits.on_redis_error) == ("memory", "allow")


def test_problems_are_reported_with_paths() -> None:
    _, problems = validate(
        {
            "auth": {"master_key": "short", "refresh": 1},
            "limits": {"backend": "memcached", "redis_url": "http://x", "on_redis_error": "maybe"},
        }
    )
    joined = "\n".join(problems)
    assert "auth.master_key: String should have at least 16 characters" in joined
    assert "auth.refresh: unknown key (did you mean 'refresh_interval'?)" in joined
    assert "limits.backend:" in joined and "limits.on_redis_error:" in joined
    assert "limits.redis_url: must start with one of redis://, rediss://" in joined
