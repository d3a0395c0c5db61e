"""Prometheus metrics, counted in the background log drain and rendered on scrape.

prometheus-client's own metric objects take a lock and walk their buckets in Python on every
update; at thousands of requests per second that is a visible share of a core. So the drain
adds finished calls into plain dicts (one tuple key per label set, a bisect per histogram) and
this collector turns them into metric families only when ``GET /metrics`` is scraped, together
with gauges read live from the health board, the request log and the storage writer.

Label values are bounded, because every one of them could otherwise come from a client: a
model is labelled with the configured public name or pattern that served it (``gemini-*``,
never the name the client sent; ``(unknown)`` for a model the gateway does not serve), an
upstream attempt's deployment with its configured ``provider/model`` (``provider/*`` for a
deployment that forwards the requested name). On top of that, every label has a hard cap on
distinct values (``metrics.max_label_values``); past it, new values share ``(overflow)``.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, GCCollector, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from turnout.observability.labels import UNKNOWN, LabelValues
from turnout.types import Receive, Scope, Send

if TYPE_CHECKING:
    from turnout.conversations.writer import WriteBehind
    from turnout.health.board import HealthBoard
    from turnout.limits.redis import RedisLimiter
    from turnout.live.reloader import Reloader
    from turnout.observability.finish import Finished
    from turnout.observability.logging import RequestLog
    from turnout.storage.writer import LogWriter

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
_MEMO_MAX = 10_000
_TOKEN_KINDS = ("input", "output", "cached", "reasoning")


class Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size
        self.sum = 0.0


class Metrics:
    def __init__(
        self,
        buckets: Sequence[float],
        route_name: Callable[[str], str | None],
        deployment: Callable[[str], str] = lambda label: label,
        max_label_values: int = 1000,
    ) -> None:
        self.buckets = tuple(sorted(buckets))
        self._route_name = route_name
        self._deployment = deployment
        cap = max_label_values
        self._label_model = LabelValues(cap)
        self._label_provider = LabelValues(cap)
        self._label_status = LabelValues(cap)
        self._label_deployment = LabelValues(cap)
        self._label_reason = LabelValues(cap)
        self._models: dict[str, str] = {}
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str], Histogram] = {}
        self.ttft: dict[tuple[str, str], Histogram] = {}
        self.tokens: dict[tuple[str, str, str], int] = {}
        self.cost: dict[tuple[str, str], float] = {}
        self.unpriced: dict[tuple[str, str], int] = {}
        self.cache: dict[tuple[str, str], int] = {}
        self.failures: dict[tuple[str, str], int] = {}
        self.routes: dict[tuple[str, str, str], int] = {}  # learned routers' decisions
        self.guardrails: dict[tuple[str, str, str], int] = {}  # plugins' decisions
        self._label_rule = LabelValues(cap)
        self.board: HealthBoard | None = None
        self.request_log: RequestLog | None = None
        self.writer: LogWriter | None = None
        self.reloader: Reloader | None = None  # live configuration (turnout.live)
        self.limits: RedisLimiter | None = None  # limits.backend: redis (turnout.auth)
        # Responses conversation records written behind the request path (turnout.conversations)
        self.conversations: WriteBehind | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        # The process's own figures (CPU seconds, resident memory, open files; the cyclic GC's
        # collections per generation): what an operator watches for leaks and GC pauses.
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def use(
        self,
        route_name: Callable[[str], str | None],
        deployment: Callable[[str], str],
        board: HealthBoard,
    ) -> None:
        """Label by a reloaded config (the memo of model labels starts again)."""
        self._route_name, self._deployment = route_name, deployment
        self._models = {}
        if self.board is not None:
            self.board = board

    def _model(self, model: str) -> str:
        label = self._models.get(model)
        if label is None:
            label = self._label_model(self._route_name(model) or UNKNOWN)
            if len(self._models) < _MEMO_MAX:
                self._models[model] = label
        return label

    def _observe(
        self, table: dict[tuple[str, str], Histogram], key: tuple[str, str], v: float
    ) -> None:
        h = table.get(key)
        if h is None:
            h = table[key] = Histogram(len(self.buckets) + 1)
        h.counts[bisect_left(self.buckets, v)] += 1
        h.sum += v

    def observe(self, finished: list[Finished]) -> None:
        requests, tokens = self.requests, self.tokens
        for done in finished:
            call = done.call
            model = self._model(call.model)
            provider = self._label_provider(done.provider or "")
            key = (model, provider)
            rkey = (model, provider, self._label_status(str(call.status)))
            requests[rkey] = requests.get(rkey, 0) + 1
            self._observe(self.latency, key, done.latency)
            if call.ttft is not None and call.stream:
                self._observe(self.ttft, key, call.ttft)
            usage = done.usage
            if usage is not None:
                counts = (
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cached_tokens,
                    usage.reasoning_tokens,
                )
                for kind, n in zip(_TOKEN_KINDS, counts, strict=True):
                    if n:
                        tkey = (model, provider, kind)
                        tokens[tkey] = tokens.get(tkey, 0) + n
                if done.cost is None:
                    self.unpriced[key] = self.unpriced.get(key, 0) + 1
            if done.cost:
                self.cost[key] = self.cost.get(key, 0.0) + done.cost
            if call.cache is not None:
                ckey = (model, call.cache)
                self.cache[ckey] = self.cache.get(ckey, 0) + 1
            if (route := call.route) is not None:
                pick = route.get("pick")
                outcome = (
                    "fallback" if pick is None else "shadow" if route.get("shadow") else "routed"
                )
                dkey = (model, self._label_deployment(str(pick or "")), outcome)
                self.routes[dkey] = self.routes.get(dkey, 0) + 1
            if (decided := call.guardrails) is not None:
                rule = self._label_rule
                for plugin, name, action in decided:
                    gkey = (rule(plugin), rule(name), rule(action))
                    self.guardrails[gkey] = self.guardrails.get(gkey, 0) + 1
            if not done.failed:
                continue
            for attempt in done.attempts:
                if attempt.reason is not None:
                    deployment = self._deployment(attempt.deployment or "")
                    fkey = (self._label_deployment(deployment), self._label_reason(attempt.reason))
                    self.failures[fkey] = self.failures.get(fkey, 0) + 1

    # -- exposition ---------------------------------------------------------------------------
    def _histogram(
        self, name: str, doc: str, table: dict[tuple[str, str], Histogram]
    ) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=("model", "provider"))
        bounds = [*(repr(float(b)) for b in self.buckets), "+Inf"]
        for labels, h in table.items():
            cumulative, running = [], 0
            for bound, n in zip(bounds, h.counts, strict=True):
                running += n
                cumulative.append((bound, running))
            family.add_metric(list(labels), cumulative, h.sum)
        return family

    def collect(self) -> Iterator[Metric]:
        yield _counter(
            "turnout_requests",
            "Requests finished, by public model, provider and HTTP status.",
            ("model", "provider", "status"),
            self.requests,
        )
        yield self._histogram(
            "turnout_request_duration_seconds",
            "Time from the request's arrival to its last byte.",
            self.latency,
        )
        yield self._histogram(
            "turnout_time_to_first_token_seconds",
            "Streams: time from the request's arrival to its first chunk.",
            self.ttft,
        )
        yield _counter(
            "turnout_tokens",
            "Tokens reported by providers (input includes cached, output includes reasoning).",
            ("model", "provider", "type"),
            self.tokens,
        )
        yield _counter(
            "turnout_cost_usd",
            "Cost of priced requests in USD.",
            ("model", "provider"),
            self.cost,
        )
        yield _counter(
            "turnout_unpriced_requests",
            "Requests with usage but no known price.",
            ("model", "provider"),
            self.unpriced,
        )
        yield _counter(
            "turnout_cache_requests",
            "Requests seen by the response cache, by result (hit, miss, refresh, bypass).",
            ("model", "result"),
            self.cache,
        )
        yield _counter(
            "turnout_upstream_failures",
            "Failed upstream attempts by deployment and reason.",
            ("deployment", "reason"),
            self.failures,
        )
        yield _counter(
            "turnout_route_decisions",
            "Learned-router decisions by model, picked deployment and outcome (routed, shadow, "
            "fallback: no prediction, routed by priority).",
            ("model", "pick", "outcome"),
            self.routes,
        )
        yield _counter(
            "turnout_guardrail_decisions",
            "Plugin decisions by plugin, rule and action (block, redact, flag, fail_open, "
            "fail_closed; docs/plugins.md).",
            ("plugin", "rule", "action"),
            self.guardrails,
        )
        yield from self._live()

    def _live(self) -> Iterator[Metric]:
        if self.request_log is not None:
            log = self.request_log
            yield _gauge("turnout_requests_in_flight", "Requests being served.", log.inflight)
        if self.board is not None:
            yield from _health(self.board)
        if (r := self.reloader) is not None:
            family = CounterMetricFamily(
                "turnout_config_reloads",
                "Config reloads by result (reloaded, unchanged, failed: the old config served on).",
                labels=("result",),
            )
            for result, n in r.counts.items():
                family.add_metric([result], n)
            yield family
            yield _gauge(
                "turnout_config_reload_failing",
                "1 while the last reload failed (GET /admin/config says why).",
                int(r.last_error is not None),
            )
            yield _gauge(
                "turnout_config_loaded_timestamp_seconds",
                "When the serving config was applied (Unix time).",
                r.loaded_at,
            )
        if (lim := self.limits) is not None:
            yield _gauge(
                "turnout_limits_redis_up",
                "1 while limits are counted in Redis (0: on_redis_error applies).",
                int(lim.available),
            )
            failures = CounterMetricFamily(
                "turnout_limits_redis_failures",
                "Calls to the limits' Redis that failed or timed out (each opens its circuit).",
            )
            failures.add_metric([], lim.failures)
            yield failures
        if (w := self.writer) is not None:
            yield _gauge("turnout_request_log_up", "1 while the database takes rows.", int(w.up))
            yield _gauge("turnout_request_log_queued_rows", "Rows waiting in memory.", w.queued)
            for name, doc, value in (
                ("written", "Rows inserted.", w.written),
                ("replayed", "Spooled rows inserted after an outage.", w.replayed),
                ("spooled", "Rows written to the spool.", w.spool.rows),
                ("dropped", "Rows dropped because the spool was full.", w.spool.dropped),
                ("rejected", "Rows the database refused.", w.rejected),
            ):
                family = CounterMetricFamily(f"turnout_request_log_{name}_rows", doc)
                family.add_metric([], value)
                yield family

        if (c := self.conversations) is not None:
            yield _gauge(
                "turnout_conversation_records_pending",
                "Responses conversation records kept in memory until written.",
                c.pending,
            )
            for name, doc, value in (
                ("written", "Conversation records written to the database.", c.written),
                ("dropped", "Conversation records dropped past the pending bound.", c.dropped),
                ("failed", "Conversation record batches the database refused.", c.failed),
            ):
                family = CounterMetricFamily(f"turnout_conversation_records_{name}", doc)
                family.add_metric([], value)
                yield family

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = generate_latest(self.registry)
        headers = [(b"content-type", CONTENT_TYPE), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _counter(
    name: str, doc: str, labels: Sequence[str], table: dict[Any, int] | dict[Any, float]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in table.items():
        family.add_metric(list(key), value)
    return family


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _health(board: HealthBoard) -> Iterator[Metric]:
    now = time.monotonic()
    state = GaugeMetricFamily(
        "turnout_deployment_state",
        "1 for the state each deployment is in.",
        labels=("deployment", "state"),
    )
    up = GaugeMetricFamily(
        "turnout_deployment_available",
        "1 if the deployment can take a request now.",
        labels=("deployment",),
    )
    inflight = GaugeMetricFamily(
        "turnout_deployment_in_flight",
        "Upstream requests in flight per deployment.",
        labels=("deployment",),
    )
    for dep_id, health in board.deployments.items():
        state.add_metric([dep_id, health.state], 1)
        up.add_metric([dep_id], int(health.available(now)))
        inflight.add_metric([dep_id], health.inflight)
    keys = GaugeMetricFamily(
        "turnout_key_state",
        "1 for the state each provider key is in (keys named by fingerprint).",
        labels=("key", "state"),
    )
    for pool in board.pools.values():
        for key in pool.keys:
            keys.add_metric([key.id, key.state], 1)
    yield from (state, up, inflight, keys)
