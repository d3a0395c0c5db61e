"""Prompt text → a short dense vector, without downloading anything.

Word 1-2-grams and character 3-5-grams (within word boundaries) are hashed into one sparse
space by scikit-learn's ``HashingVectorizer``: no vocabulary to ship, and a word never seen in
training still lands somewhere. TF-IDF weights (sublinear term frequency, ``TfidfTransformer``'s
smoothed IDF) keep frequent filler from dominating; a truncated SVD (latent semantic analysis)
then projects the kept columns onto ``dims`` directions, so every estimator works on the same
small dense, unit-length vector, and a 20,000-example kNN is one matrix-vector product.

Only hashed columns seen in at least ``min_df`` training prompts are kept (at most
``max_features``): the SVD gives every other column a zero weight anyway, and this keeps the
stored projection to ``kept x dims`` floats instead of ``2**20 x dims``.

Training and serving share one implementation of the arithmetic (:meth:`transform` and its
one-prompt fast path :meth:`transform_one`, checked equal by the tests), so a deployed router
sees exactly the vectors it was trained on. The fast path hashes with the same analyzer and
the same MurmurHash3 as ``HashingVectorizer`` but skips building a sparse matrix, which for
one short prompt costs more than the hashing itself, and remembers where each n-gram lands.
Optionally an embedding from an embedding deployment (fetched through the gateway, see
:mod:`turnout.router.embeddings`) is appended, each half unit-length and weighted.

Imports scikit-learn: only modules that serve or train a learned router import this one.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.utils import murmurhash3_32

Floats = NDArray[np.float32]
POSITION_CACHE = 500_000  # n-grams whose column is remembered (cleared when full)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    n_features: int = 2**20
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (3, 5)
    dims: int = 128
    min_df: int = 2
    max_features: int = 50_000
    max_chars: int = 2000
    embedding_model: str | None = None  # a public model of the gateway, or None
    embedding_weight: float = 0.5  # share of the vector's squared length for the embedding
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["word_ngrams"], out["char_ngrams"] = list(self.word_ngrams), list(self.char_ngrams)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FeatureConfig:
        data = dict(raw)
        for key in ("word_ngrams", "char_ngrams"):
            if key in data:
                lo, hi = data[key]
                data[key] = (int(lo), int(hi))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class Analyzer:
    """Word and character n-grams of one text, the two kinds kept apart by a prefix.

    Character n-grams (``char_wb``) never cross whitespace: those of a text are those of its
    lower-cased whitespace-separated words, one after the other, which is what lets the
    serving path remember them per word (:meth:`FeaturePipeline.transform_one`)."""

    __slots__ = ("_chars", "_words")

    def __init__(self, config: FeatureConfig) -> None:
        self._words = HashingVectorizer(
            analyzer="word", ngram_range=config.word_ngrams, lowercase=True
        ).build_analyzer()
        self._chars = HashingVectorizer(
            analyzer="char_wb", ngram_range=config.char_ngrams, lowercase=True
        ).build_analyzer()

    def __call__(self, text: str) -> list[str]:
        tokens: list[str] = self._words(text)
        tokens.extend("\x01" + t for t in self._chars(text))
        return tokens

    def words(self, text: str) -> list[str]:
        """The word n-grams of ``text``."""
        out: list[str] = self._words(text)
        return out

    def chars(self, word: str) -> list[str]:
        """The (prefixed) character n-grams of one lower-cased, whitespace-free word."""
        return ["\x01" + t for t in self._chars(word)]


def utf8(text: str) -> str:
    """``text`` as encodable Unicode. A prompt from an imported file (decoded with ``json``) may
    hold a lone surrogate, which the hasher's UTF-8 encoding refuses: one such row crashed
    training, whatever the other rows. It becomes ``?``; every other text is returned as is."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _unit_rows(matrix: Floats) -> Floats:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Floats = (matrix / norms).astype(np.float32)
    return out


class FeaturePipeline:
    """Hashing → TF-IDF → SVD → unit vector (→ plus an embedding)."""

    def __init__(
        self,
        config: FeatureConfig,
        kept: NDArray[np.int64],
        idf: Floats,
        components: Floats,
        embedding_dims: int = 0,
    ) -> None:
        self.config = config
        self.kept = kept  # sorted hashed column ids
        self.idf = idf  # per kept column
        self.components = np.ascontiguousarray(components, dtype=np.float32)  # kept x dims
        self.embedding_dims = embedding_dims
        self._kept_list: list[int] = kept.tolist()
        self._positions: dict[str, int] = {}  # n-gram -> position in kept (-1: not kept)
        self._word_positions: dict[str, tuple[int, ...]] = {}  # word -> its char n-grams
        self.analyzer = Analyzer(config)
        self.hasher = HashingVectorizer(
            analyzer=self.analyzer,
            n_features=config.n_features,
            alternate_sign=False,
            norm=None,
            dtype=np.float64,
        )
        w = min(max(config.embedding_weight, 0.0), 1.0) if embedding_dims else 0.0
        self._text_scale = math.sqrt(1.0 - w)
        self._embed_scale = math.sqrt(w)

    @property
    def dims(self) -> int:
        return int(self.components.shape[1]) + self.embedding_dims

    @property
    def wants_embedding(self) -> bool:
        return self.embedding_dims > 0

    # -- fitting ------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        texts: list[str],
        config: FeatureConfig,
        seed: int = 0,
        embedding_dims: int = 0,
    ) -> FeaturePipeline:
        from sklearn.decomposition import TruncatedSVD

        if not texts:
            raise ValueError("no training prompts")
        empty = np.zeros((0, 1), np.float32)
        probe = cls(config, np.zeros(0, np.int64), np.zeros(0, np.float32), empty)
        counts = probe._hash([utf8(t[: config.max_chars]) for t in texts])
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        candidates = np.flatnonzero(df >= max(1, config.min_df))
        if len(candidates) < 2:  # tiny corpora: keep whatever was seen
            candidates = np.flatnonzero(df >= 1)
        if len(candidates) > config.max_features:
            top = np.argsort(-df[candidates], kind="stable")[: config.max_features]
            candidates = np.sort(candidates[top])
        kept = candidates.astype(np.int64)
        tfidf = TfidfTransformer(sublinear_tf=True, norm=None).fit(counts[:, kept])
        idf = tfidf.idf_.astype(np.float32)
        weighted = cls._weigh(counts[:, kept], idf)
        dims = max(1, min(config.dims, len(kept) - 1, len(texts) - 1))
        if dims >= 1 and len(kept) > 1:
            svd = TruncatedSVD(n_components=dims, random_state=seed, algorithm="randomized")
            svd.fit(weighted)
            components = svd.components_.T.astype(np.float32)
        else:  # one column: the projection is the identity on it
            components = np.ones((len(kept), 1), np.float32)
        return cls(config, kept, idf, components, embedding_dims)

    def _hash(self, texts: list[str]) -> Any:
        matrix = self.hasher.transform(texts)
        matrix.sum_duplicates()
        return matrix.tocsr()

    @staticmethod
    def _weigh(counts: Any, idf: Floats) -> Any:
        """Sublinear TF x IDF, each row unit-length (over the kept columns)."""
        from sklearn.preprocessing import normalize

        weighted = counts.astype(np.float64).tocsr(copy=True)
        weighted.data = 1.0 + np.log(weighted.data)
        weighted = weighted.multiply(idf.astype(np.float64)).tocsr()
        return normalize(weighted, norm="l2", copy=False)

    # -- serving ------------------------------------------------------------------------------
    def _columns(self, counts: Any) -> Any:
        """Project a hashed matrix onto the kept columns (unknown columns dropped)."""
        return counts[:, self.kept]

    def transform(self, texts: list[str], embeddings: Floats | None = None) -> Floats:
        """Vectors for many prompts (training, evaluation)."""
        cfg = self.config
        counts = self._hash([utf8(t[: cfg.max_chars]) for t in texts])
        weighted = self._weigh(self._columns(counts), self.idf)
        dense = np.asarray(weighted @ self.components, dtype=np.float32)
        return self._finish(_unit_rows(dense), embeddings)

    def hash_one(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Hashed column ids and counts of one prompt: what ``HashingVectorizer`` computes
        (the same analyzer, MurmurHash3 with seed 0, ``abs(h) % n_features``), without building
        a sparse matrix, which costs more than the hashing itself for one short text."""
        n = self.config.n_features
        tokens = self.analyzer(utf8(text[: self.config.max_chars]))
        if not tokens:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        mm = murmurhash3_32
        hashed = np.fromiter((abs(mm(t, 0)) % n for t in tokens), np.int64, len(tokens))
        idx, counts = np.unique(hashed, return_counts=True)
        return idx, counts.astype(np.float64)

    def _kept_positions(self, text: str) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Positions in :attr:`kept` of the prompt's n-grams, and their counts.

        Where each n-gram lands is remembered (bounded caches: most n-grams of a prompt were
        seen before), and character n-grams per whitespace-separated word, so a request costs
        about two dictionary lookups per word instead of a hash per n-gram."""
        text = utf8(text[: self.config.max_chars])
        found: list[int] = []
        lookup = self._lookup
        for token in self.analyzer.words(text):
            pos = lookup(token)
            if pos >= 0:
                found.append(pos)
        per_word = self._word_positions
        for word in text.lower().split():
            positions = per_word.get(word)
            if positions is None:
                positions = tuple(p for p in map(lookup, self.analyzer.chars(word)) if p >= 0)
                if len(per_word) >= POSITION_CACHE:
                    per_word.clear()
                per_word[word] = positions
            found.extend(positions)
        if not found:
            return np.zeros(0, np.intp), np.zeros(0, np.float64)
        idx, counts = np.unique(np.array(found, dtype=np.intp), return_counts=True)
        return idx, counts.astype(np.float64)

    def _lookup(self, token: str) -> int:
        cache = self._positions
        pos = cache.get(token)
        if pos is None:
            pos = self._position(token)
            if len(cache) >= POSITION_CACHE:
                cache.clear()
            cache[token] = pos
        return pos

    def _position(self, token: str) -> int:
        column = abs(murmurhash3_32(token, 0)) % self.config.n_features
        i = bisect_left(self._kept_list, column)
        return i if i < len(self._kept_list) and self._kept_list[i] == column else -1

    def transform_one(self, text: str, embedding: Floats | None = None) -> Floats:
        """The vector of one prompt, on the request path: the same arithmetic as
        :meth:`transform`, without sparse matrices."""
        pos, val = self._kept_positions(text)
        z = np.zeros(self.components.shape[1], np.float32)
        if len(pos):
            w = (1.0 + np.log(val)) * np.take(self.idf, pos)
            norm = float(np.sqrt(w @ w))
            if norm > 0:
                rows = np.take(self.components, pos, axis=0)  # faster than fancy indexing
                z = ((w / norm).astype(np.float32) @ rows).astype(np.float32)
                zn = float(np.sqrt(z @ z))
                if zn > 0:
                    z /= zn
        if not self.embedding_dims:
            return z
        emb = None if embedding is None else embedding.reshape(1, -1)
        out: Floats = self._finish(z.reshape(1, -1), emb)[0]
        return out

    def _finish(self, text_part: Floats, embeddings: Floats | None) -> Floats:
        if not self.embedding_dims:
            return text_part
        if embeddings is None:
            raise ValueError("this router was trained with embeddings: one is needed")
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[1] != self.embedding_dims:
            raise ValueError(
                f"embedding has {emb.shape[-1]} dimensions, the router expects "
                f"{self.embedding_dims}"
            )
        out = np.hstack([text_part * self._text_scale, _unit_rows(emb) * self._embed_scale])
        return out.astype(np.float32)

    # -- storage ------------------------------------------------------------------------------
    def arrays(self) -> dict[str, NDArray[Any]]:
        return {
            "features.kept": self.kept,
            "features.idf": self.idf,
            "features.components": self.components,
        }

    def params(self) -> dict[str, Any]:
        return {"config": self.config.to_json(), "embedding_dims": self.embedding_dims}

    @classmethod
    def load(cls, params: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> FeaturePipeline:
        return cls(
            FeatureConfig.from_json(params["config"]),
            np.asarray(arrays["features.kept"], dtype=np.int64),
            np.asarray(arrays["features.idf"], dtype=np.float32),
            np.asarray(arrays["features.components"], dtype=np.float32),
            int(params.get("embedding_dims", 0)),
        )
