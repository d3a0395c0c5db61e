"""The collector's credentials never reach the gateway's log.

While the OTLP collector is unreachable, OpenTelemetry's exporter logs every retry with the
request's URL, query included: a key in ``tracing.endpoint``'s query
(``/v1/traces?api_key=…``) was written to the gateway's log on each one (docs/security.md,
"The collector's credentials in the exporter's log lines").
"""

from __future__ import annotations

from pathlib import Path

import openai

from tests.support.procs import Proc, free_port, mock_provider, start_gateway
from tests.support.wait import until

SECRET = "COLLECTOR-QUERY-SECRET-1"


def test_an_endpoint_key_is_hidden_in_export_errors(mock: Proc, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/v1/traces?api_key={SECRET}"
    config = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "mock", "model": "gpt-4o-mini"}]}},
        "tracing": {"enabled": True, "endpoint": endpoint},
    }
    gw = start_gateway(config, tmp_path, env={"OTEL_BSP_SCHEDULE_DELAY": "50"})
    try:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
        until(lambda: "exporting spans" in gw.output(), 30, 0.1)  # the exporter's retry line
        output = gw.output()
        assert SECRET not in output, output[-2000:]
        assert "api_key=***" in output  # the line is still there, and says where
    finally:
        gw.stop()
