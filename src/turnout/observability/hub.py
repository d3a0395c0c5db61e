"""Everything fed by finished requests, built once from the config and run by the lifespan.

``create_app`` builds one :class:`Observability`; the gateway asks it for its routes
(``/metrics``), its pipeline steps (capture), the providers to route through (wrapped to note
attempts) and, once storage is open, the health store. Each part is optional and off the
request path: the request log's drain feeds rows, metrics and spans in batches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from turnout.config.compile import Runtime
from turnout.health.board import HealthBoard
from turnout.health.store import HealthStore
from turnout.observability.attempts import recorded
from turnout.observability.capture import Capture
from turnout.observability.finish import Finisher
from turnout.observability.labels import deployment_labels, route_names
from turnout.observability.logging import RequestLog, Sink
from turnout.observability.metrics import Metrics
from turnout.pipeline.chain import Step
from turnout.pricing import PriceTable
from turnout.providers.base import Provider
from turnout.storage import Storage
from turnout.storage.sink import RowSink
from turnout.types import Receive, Scope, Send

if TYPE_CHECKING:
    from turnout.observability.tracing import Tracing
    from turnout.state import GatewayState

Route = Callable[[Scope, Receive, Send], Awaitable[None]]


class Observability:
    def __init__(self, runtime: Runtime, request_log: RequestLog) -> None:
        cfg = runtime.config
        self.runtime = runtime
        self.request_log = request_log
        self.ask_stream_usage = cfg.storage.ask_stream_usage
        self.storage = Storage(cfg.storage) if cfg.storage.enabled else None
        self.metrics = (
            Metrics(
                cfg.metrics.latency_buckets,
                route_names(runtime),
                deployment_labels(runtime),
                cfg.metrics.max_label_values,
            )
            if cfg.metrics.enabled
            else None
        )
        self.tracing: Tracing | None = None
        if cfg.tracing.enabled:  # the OpenTelemetry SDK only when on (docs/measurements.md#memory)
            from turnout.observability.tracing import Tracing

            self.tracing = Tracing(cfg.tracing, runtime.providers)
        secrets = [k for spec in runtime.providers.values() for k in spec.api_keys if k]
        self.capture = Capture(cfg.capture, secrets) if cfg.capture.enabled else None
        # With every consumer off, the request path skips usage and attempt bookkeeping too.
        self.recording = any((self.storage, self.metrics, self.tracing))
        self.usage_wanted = self.recording or cfg.logging.requests
        self.ask_stream_usage = self.ask_stream_usage and self.usage_wanted

    def use(self, runtime: Runtime, board: HealthBoard) -> None:
        """A reload swapped the runtime: label, price, trace and redact by the new one. The
        capture keeps redacting the old keys too (rows of calls still in flight)."""
        self.runtime = runtime
        if self.metrics is not None:
            self.metrics.use(route_names(runtime), deployment_labels(runtime), board)
        if self.tracing is not None:
            self.tracing.use(runtime.providers)
        if self.capture is not None:
            self.capture.add_secrets(k for s in runtime.providers.values() for k in s.api_keys)
        finisher = self.request_log.finisher
        if finisher is not None:
            finisher.use(PriceTable.from_runtime(runtime), runtime.providers)

    def routes(self, state: GatewayState) -> dict[str, Route]:
        """``GET /metrics``, behind ``metrics.access`` (turnout.observability.access)."""
        if self.metrics is None:
            return {}
        from turnout.observability.access import guard_metrics  # it imports the auth guard

        return {"/metrics": guard_metrics(state, self.runtime.config.metrics, self.metrics.asgi)}

    def steps(self) -> list[Step]:
        return [self.capture.step] if self.capture is not None else []

    def providers(self, providers: Mapping[str, Provider]) -> dict[str, Provider]:
        """The providers for the router: each attempt noted on its call (for the request
        log's attempt list and the trace's attempt spans), unless nothing reads them."""
        return recorded(providers) if self.recording else dict(providers)

    async def start(self, board: HealthBoard) -> HealthStore | None:
        """Open storage (migrating it) and start the drain's consumers; returns the health
        store to use, when storage provides one."""
        sinks: list[Sink] = []
        if self.storage is not None:
            await self.storage.open()
            sinks.append(RowSink(self.storage.writer))
        if self.metrics is not None:
            self.metrics.board = board
            self.metrics.request_log = self.request_log
            if self.storage is not None:
                self.metrics.writer = self.storage.writer
            sinks.append(self.metrics)
        if self.tracing is not None:
            sinks.append(self.tracing)
        if self.capture is not None:
            self.capture.start()
        finisher = Finisher(PriceTable.from_runtime(self.runtime), self.runtime.providers)
        self.request_log.attach(finisher, sinks)
        self.request_log.start()
        return self.storage.health if self.storage is not None else None

    async def stop(self) -> None:
        """After the server drained: the last requests reach the drain, then their rows the
        database (or the spool), then spans their collector."""
        await self.request_log.stop()
        if self.storage is not None:
            await self.storage.close()
        if self.tracing is not None:
            await self.tracing.close()
        if self.capture is not None:
            await self.capture.stop()
