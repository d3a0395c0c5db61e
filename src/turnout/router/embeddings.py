"""Optional prompt embeddings from an embedding deployment, called through the gateway.

A router can add an embedding of the prompt to its hashed text features (``train
--embeddings MODEL``). The vectors come from one of the gateway's own public models, so an
embedding deployment gets the gateway's failover, health and keys like any other:

- at training and evaluation time over HTTP (``POST {url}/v1/embeddings``, in batches), with
  a cache on disk beside the registry so a re-training does not pay for the same prompts again;
- while serving, in process: the strategy hands an embeddings call to the router itself
  (not through authentication, limits, the cache or the request log: it is the gateway's own
  call, made on behalf of a request that already passed them), in a task of its own with a
  timeout, and keeps the answers in a bounded in-memory LRU cache.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from turnout.types import Call, Reply

Floats = NDArray[np.float32]


class EmbeddingError(Exception):
    pass


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).hexdigest()


def parse_vectors(body: bytes, expected: int) -> list[Floats]:
    """The vectors of an OpenAI embeddings answer, in input order (floats or base64)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EmbeddingError(f"embedding answer is not JSON: {exc}") from None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or len(items) != expected:
        raise EmbeddingError("embedding answer has the wrong number of vectors")
    out: list[Floats | None] = [None] * expected
    for pos, item in enumerate(items):
        if not isinstance(item, dict):
            raise EmbeddingError("embedding answer item is not an object")
        index = item.get("index", pos)
        value = item.get("embedding")
        if isinstance(value, str):
            vector = np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float32)
        elif isinstance(value, list) and all(isinstance(v, int | float) for v in value):
            vector = np.asarray(value, dtype=np.float32)
        else:
            raise EmbeddingError("embedding answer item has no vector")
        if not isinstance(index, int) or not 0 <= index < expected:
            raise EmbeddingError("embedding answer item has a bad index")
        out[index] = vector
    if any(v is None for v in out):
        raise EmbeddingError("embedding answer misses a vector")
    return [v for v in out if v is not None]


class LruCache:
    """Prompt hash → vector, at most ``size`` entries (least recently used out first)."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._items: OrderedDict[str, Floats] = OrderedDict()

    def get(self, key: str) -> Floats | None:
        vector = self._items.get(key)
        if vector is not None:
            self._items.move_to_end(key)
        return vector

    def put(self, key: str, vector: Floats) -> None:
        if not self.size:
            return
        self._items[key] = vector
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class GatewayEmbedder:
    """Embeddings while serving: through the router, cached, bounded in time."""

    def __init__(self, model: str, timeout: float, cache_size: int) -> None:
        self.model = model
        self.timeout = timeout
        self.cache = LruCache(cache_size)
        self.failures = 0

    async def embed(self, text: str, route: Callable[[Call], Awaitable[Reply]], rid: str) -> Floats:
        key = text_key(text)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        payload = {"model": self.model, "input": text}
        call = Call(
            protocol="openai",
            operation="embeddings",
            model=self.model,
            body=orjson.dumps(payload),
            data=payload,
            stream=False,
            headers={},
            request_id=f"{rid}-route-embedding",
            started=time.perf_counter(),
            path="/v1/embeddings",
        )
        # A task of its own: the router keeps one deadline per task, and this call's must
        # not replace the request's.
        task = asyncio.ensure_future(route(call))
        try:
            reply = await asyncio.wait_for(task, self.timeout)
        except Exception as exc:
            self.failures += 1
            raise EmbeddingError(f"embedding call failed: {type(exc).__name__}") from None
        if reply.status != 200 or reply.chunks is not None:
            self.failures += 1
            raise EmbeddingError(f"embedding call answered {reply.status}")
        vector = parse_vectors(reply.body, 1)[0]
        self.cache.put(key, vector)
        return vector


class HttpEmbedder:
    """Embeddings for training and evaluation: batches over HTTP, cached on disk."""

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        cache_dir: Path | None = None,
        batch: int = 64,
        timeout: float = 60.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.batch = batch
        self.timeout = timeout
        self.cache_path = None if cache_dir is None else cache_dir / f"{text_key(model)}.jsonl"
        self._cache: dict[str, list[float]] = {}
        if self.cache_path is not None and self.cache_path.is_file():
            for line in self.cache_path.read_text().splitlines():
                try:
                    key, vector = json.loads(line)
                except (ValueError, TypeError):
                    continue
                self._cache[key] = vector

    def __call__(self, texts: Sequence[str]) -> Floats:
        from turnout.router.http import post_json

        keys = [text_key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        fresh: list[tuple[str, list[float]]] = []
        for start in range(0, len(missing), self.batch):
            chunk = missing[start : start + self.batch]
            body = {"model": self.model, "input": [texts[i] for i in chunk]}
            status, answer = post_json(
                f"{self.url}/v1/embeddings", body, self.api_key, self.timeout
            )
            if status != 200:
                raise EmbeddingError(
                    f"{self.url}/v1/embeddings answered {status}: {answer[:200]!r}"
                )
            for i, vector in zip(chunk, parse_vectors(answer, len(chunk)), strict=True):
                values = [float(v) for v in vector]
                self._cache[keys[i]] = values
                fresh.append((keys[i], values))
        if fresh and self.cache_path is not None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            with self.cache_path.open("a") as f:
                for key, values in fresh:
                    f.write(json.dumps([key, values]) + "\n")
        vectors = [self._cache[k] for k in keys]
        dims = {len(v) for v in vectors}
        if len(dims) > 1:
            raise EmbeddingError(f"embeddings of different sizes: {sorted(dims)}")
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def vector_of(value: Any) -> Floats | None:
    return value if isinstance(value, np.ndarray) else None
