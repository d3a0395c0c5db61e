"""CPU cost per call of the plugin pipeline, in process (docs/plugins.md#cost).

The pipeline is built as the gateway builds it, around a terminal that answers at once, and
each variant is run 15 times over 20 000 calls, keeping the best CPU time (process time, so a
loaded machine's waiting is not counted). Run it with ``uv run python scripts/plugin_cost.py``;
under ``valgrind --tool=callgrind`` pass ``VARIANT N`` to run one variant N times.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import orjson

from turnout.config.compile import compile_config
from turnout.config.validate import validate
from turnout.pipeline import build_pipeline
from turnout.plugins.service import Plugins
from turnout.types import Call, Handler, Reply

VARIANTS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "unselected": [{"plugin": "keywords", "models": ["other-*"], "settings": {"deny": ["x"]}}],
    "keywords": [{"plugin": "keywords", "settings": {"deny": ["forbidden", "codename"]}}],
    "pii": [{"plugin": "pii"}],
}
DATA = {"model": "m", "messages": [{"role": "user", "content": "Tell me a short story, please."}]}
BODY = orjson.dumps(DATA)
REPLY = Reply(200, [], b"{}")


def handler_for(plugins: list[dict[str, Any]]) -> Handler:
    provider = {"type": "openai-compatible", "base_url": "http://127.0.0.1:9/v1", "api_keys": ["k"]}
    config, problems = validate(
        {
            "providers": {"p": provider},
            "models": {"m": {"deployments": [{"provider": "p"}]}},
            "plugins": plugins,
        }
    )
    assert config is not None, problems

    async def terminal(call: Call) -> Reply:
        return REPLY

    return build_pipeline(Plugins(compile_config(config)).steps(), terminal)


async def run(handler: Handler, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        await handler(Call("openai", "chat", "m", BODY, DATA, False, {}, "rid", 0.0))
    return (time.process_time() - started) / max(n, 1) * 1e6


async def main() -> None:
    if len(sys.argv) == 3:  # one variant, for callgrind
        await run(handler_for(VARIANTS[sys.argv[1]]), int(sys.argv[2]))
        return
    handlers = {name: handler_for(p) for name, p in VARIANTS.items()}
    best = dict.fromkeys(handlers, float("inf"))
    for _ in range(15):
        for name, handler in handlers.items():
            best[name] = min(best[name], await run(handler, 20_000))
    for name, us in best.items():
        print(f"{name:12s} {us:6.2f} µs per call  (+{us - best['none']:.2f})")


if __name__ == "__main__":
    asyncio.run(main())
