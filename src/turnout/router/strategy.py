"""The learned routing strategies: ``knn``, ``mlp``, ``svm`` and ``logistic``.

Configured like any strategy::

    models:
      auto:
        strategy: knn
        strategy_options: {router_version: v0003, quality_target: 0.8}
        deployments:
          - {provider: cheap, model: small-1, price: {input: 0.1, output: 0.4}}
          - {provider: strong, model: large-1, price: {input: 5, output: 15}}

Built once per route (at start and at each reload), it loads the version from the registry
(``registry``, default ``routers`` in the working directory; pickles refused unless
``allow_pickle``) and checks that its kind is the strategy's name. Per request it reads the
prompt (:mod:`turnout.router.text`), predicts each candidate's quality and orders the
candidates with :func:`turnout.router.decide.rank`; the router then fails over, keeps health
and limits exactly as for every other strategy. Candidates the router was not trained on are
tried last.

Cost per call, for picking the cheapest: the mean cost each deployment had in the training
data when every candidate has one, else the configured ``price`` (input + output per million
tokens) when every candidate has one, else the priority order.

The decision is recorded on the call (the request log line's ``route`` field) and returned
as ``x-turnout-route-score: <predicted quality of the pick>; pick=<deployment>;
router=<version>`` (``; shadow`` in shadow mode). With ``shadow: true`` the router predicts
and records but the ``priority`` order is used, so a new router can be watched on live
traffic before it decides anything. A prediction that fails (no text in the request, an
embedding that did not arrive) falls back to the ``priority`` order and records the reason;
it never fails the request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from turnout.router.decide import rank
from turnout.router.text import prompt_text
from turnout.routing.member import Member
from turnout.routing.strategies.base import NoOptions, Strategy
from turnout.routing.strategies.priority import Priority
from turnout.types import Call, Handler


class LearnedOptions(NoOptions):
    router_version: str = Field(
        min_length=1, description="registry version to serve: 3, v0003 or latest"
    )
    registry: str = Field("routers", description="registry directory (relative: to the cwd)")
    mode: Literal["target", "tradeoff"] = Field(
        "target", description="target: cheapest over quality_target; tradeoff: quality - λ·cost"
    )
    quality_target: float = Field(0.8, ge=0, le=1, description="predicted quality to clear")
    cost_weight: float = Field(0.5, ge=0, description="λ: quality given up for the dearest cost")
    shadow: bool = Field(False, description="predict and record, but route by priority")
    allow_pickle: bool = Field(False, description="let a pickled router load (runs its code)")
    max_chars: int | None = Field(
        None, gt=0, description="prompt characters read (default: model's)"
    )
    embedding_timeout: float = Field(2.0, gt=0, description="seconds for an embedding call")
    embedding_cache: int = Field(10_000, ge=0, description="embeddings kept in memory")


class Learned(Strategy):
    """The common strategy; the subclasses only name the kind they serve."""

    name = "learned"
    Options = LearnedOptions

    def __init__(self, members: Sequence[Member], options: BaseModel) -> None:
        super().__init__(members, options)
        assert isinstance(options, LearnedOptions)
        from turnout.router.store import Registry

        self.opts = options
        self.base = Priority(members, options)
        self.model = Registry(options.registry).load(
            options.router_version, allow_pickle=options.allow_pickle
        )
        if self.model.kind != self.name:
            raise ValueError(
                f"router {self.model.version} is a {self.model.kind} router; "
                f"configure strategy: {self.model.kind} to serve it"
            )
        self.max_chars = options.max_chars or self.model.features.config.max_chars
        column = {d: i for i, d in enumerate(self.model.deployments)}
        # Per member (by route index): its column in the model's predictions, or None.
        self.column: dict[int, int | None] = {m.index: column.get(m.spec.id) for m in members}
        self.cost: dict[int, float] = _costs(members, self.model.costs)
        self.tag = f"router={self.model.version}"
        self.embedder: Any = None
        embedding_model = self.model.features.config.embedding_model
        if self.model.features.wants_embedding and embedding_model:
            from turnout.router.embeddings import GatewayEmbedder

            self.embedder = GatewayEmbedder(
                embedding_model, options.embedding_timeout, options.embedding_cache
            )
        self.prefetch_wanted = self.embedder is not None
        self.errors = 0

    def carry(self, previous: Strategy) -> None:
        """A reload keeps the prompt embeddings already fetched (same embedding model); the
        router itself is the version the new configuration names, loaded afresh."""
        if not isinstance(previous, Learned):
            return
        mine, theirs = self.embedder, previous.embedder
        if mine is not None and theirs is not None and mine.model == theirs.model:
            mine.cache = theirs.cache

    async def prefetch(self, call: Call, route: Handler) -> None:
        """Fetch the prompt's embedding before :meth:`order` (only for routers trained
        with embeddings)."""
        if self.embedder is None:
            return
        from turnout.router.embeddings import EmbeddingError

        text = prompt_text(call.data, call.protocol, self.max_chars)
        if not text:
            return
        try:
            call.route_embedding = await self.embedder.embed(text, route, call.request_id)
        except EmbeddingError as exc:
            call.route = {"router": self.model.version, "error": str(exc)}

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        started = time.perf_counter()
        try:
            ranked, scores = self._rank(candidates, call)
        except Exception as exc:  # never fail a request for its router: route by priority
            self.errors += 1
            reason = str(exc) if isinstance(exc, _NoDecision) else f"{type(exc).__name__}"
            if call.route is None:
                call.route = {"router": self.model.version, "error": reason}
            return self.base.order(candidates, call)
        pick = ranked[0]
        score = scores[candidates.index(pick)]
        shadow = self.opts.shadow
        label = pick.label or pick.spec.id
        call.route = {
            "router": self.model.version,
            "kind": self.model.kind,
            "mode": self.opts.mode,
            "pick": label,
            "score": None if score is None else round(score, 4),
            "scores": {
                (m.label or m.spec.id): (None if s is None else round(s, 4))
                for m, s in zip(candidates, scores, strict=True)
            },
            "shadow": shadow,
            "ms": round((time.perf_counter() - started) * 1000, 3),
        }
        value = "-" if score is None else f"{score:.4f}"
        header = f"{value}; pick={label}; {self.tag}" + ("; shadow" if shadow else "")
        call.route_score = header.encode("latin-1", "replace")
        return self.base.order(candidates, call) if shadow else ranked

    def _rank(
        self, candidates: list[Member], call: Call
    ) -> tuple[list[Member], list[float | None]]:
        if call.operation != "chat":
            raise _NoDecision(f"not a chat request ({call.operation})")
        text = prompt_text(call.data, call.protocol, self.max_chars)
        if not text:
            raise _NoDecision("no prompt text")
        embedding: Any = None
        if self.embedder is not None:
            from turnout.router.embeddings import vector_of

            embedding, call.route_embedding = vector_of(call.route_embedding), None
            if embedding is None:
                raise _NoDecision("no embedding for the prompt")
        try:
            predicted = self.model.scores(text, embedding)
        except ValueError as exc:
            raise _NoDecision(f"prediction failed: {exc}") from None
        columns = [self.column.get(m.index) for m in candidates]
        scores: list[float | None] = [None if c is None else float(predicted[c]) for c in columns]
        costs = [self.cost[m.index] for m in candidates]
        opts = self.opts
        order = rank(scores, costs, opts.mode, opts.quality_target, opts.cost_weight)
        return [candidates[i] for i in order], scores


class _NoDecision(Exception):
    pass


def _costs(members: Sequence[Member], trained: dict[str, float | None]) -> dict[int, float]:
    data = [trained.get(m.spec.id) for m in members]
    if all(c is not None for c in data):
        return {m.index: float(c or 0.0) for m, c in zip(members, data, strict=True)}
    prices = [m.spec.input_price for m in members]
    if all(p is not None for p in prices):
        return {
            m.index: (m.spec.input_price or 0.0) + (m.spec.output_price or 0.0) for m in members
        }
    return {m.index: float(m.index) for m in members}


class Knn(Learned):
    name = "knn"


class Mlp(Learned):
    name = "mlp"


class Svm(Learned):
    name = "svm"


class Logistic(Learned):
    name = "logistic"
