"""A route's fallbacks and a gateway key's models, through a gateway process and the OpenAI SDK.

Before: a key allowed only ``gpt-test`` was answered by ``gpt-other`` (a model it may not use,
maybe a dearer one) whenever ``gpt-test``'s deployments failed, because the router tried the
route's fallbacks without asking the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from tests.integration.test_auth import MASTER, new_key, oa
from tests.support.procs import Proc, free_port, mock_provider, start_gateway

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def test_a_fallback_serves_only_keys_that_may_use_its_model(mock: Proc, tmp_path: Path) -> None:
    dead = {
        "type": "openai-compatible",
        "base_url": f"http://127.0.0.1:{free_port()}/v1",
        "api_keys": ["sk-dead"],
    }
    config = {
        "providers": {"dead": dead, "oa": mock_provider(mock)},
        "models": {
            "gpt-test": {
                "deployments": [{"provider": "dead", "model": "up"}],
                "fallbacks": ["gpt-other"],
            },
            "gpt-other": {"deployments": [{"provider": "oa", "model": "up"}]},
        },
        "routing": {"max_attempts": 1},
    }
    gw = start_gateway(config, tmp_path, env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        both, _ = new_key(gw, models=["gpt-test", "gpt-other"])
        served = oa(gw, both).chat.completions.with_raw_response.create(
            model="gpt-test", messages=MESSAGES
        )
        assert served.headers["x-turnout-deployment"] == "oa/up"  # gpt-other's
        assert served.parse().choices[0].message.content
        only, _ = new_key(gw, models=["gpt-test"])
        with pytest.raises(openai.APIStatusError) as refused:
            oa(gw, only).chat.completions.create(model="gpt-test", messages=MESSAGES)
        assert refused.value.status_code >= 500  # gpt-test's own failure, not gpt-other's answer
    finally:
        gw.stop()
