from __future__ import annotations

import time
from typing import Any

from turnout.config.compile import Runtime, compile_config
from turnout.config.schema import TurnoutConfig
from turnout.types import Call, Usage


def runtime(**extra: Any) -> Runtime:
    cfg = TurnoutConfig.model_validate(
        {
            "providers": {
                "p1": {
                    "type": "openai",
                    "base_url": "https://api.example.com/v1",
                    "api_keys": ["sk-one-secret-0001"],
                },
                "p2": {"type": "anthropic", "api_keys": ["sk-ant-two-secret-0002"]},
            },
            "models": {
                "gpt-x": {
                    "deployments": [
                        {"provider": "p1", "model": "gpt-4o"},
                        {"provider": "p2", "model": "claude-3-5-haiku"},
                    ]
                },
            },
            **extra,
        }
    )
    return compile_config(cfg)


def call(**fields: Any) -> Call:
    c = Call(
        protocol="openai",
        operation="chat",
        model="gpt-x",
        body=b'{"model":"gpt-x","temperature":0.5,"max_tokens":64}',
        data={"model": "gpt-x", "temperature": 0.5, "max_tokens": 64},
        stream=False,
        headers={b"authorization": b"Bearer sk-client-secret-123456"},
        request_id="rid-1",
        started=time.perf_counter() - 0.05,
        path="/v1/chat/completions",
        deployment="p1/gpt-4o",
        attempts=1,
        status=200,
        usage=Usage(100, 20, 40, 5),
    )
    for k, v in fields.items():
        setattr(c, k, v)
    return c
