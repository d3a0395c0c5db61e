"""The feature pipeline: hashed n-grams, TF-IDF, SVD; one arithmetic for training and serving."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from tests.unit.router.synth import prompts
from turnout.router.features import Analyzer, FeatureConfig, FeaturePipeline

TEXTS = [p for p, _ in prompts(300)]


@pytest.fixture(scope="module")
def pipeline() -> FeaturePipeline:
    return FeaturePipeline.fit(TEXTS, FeatureConfig(dims=32), seed=0)


def test_fast_hashing_is_hashing_vectorizer(pipeline: FeaturePipeline) -> None:
    reference = HashingVectorizer(
        analyzer=Analyzer(pipeline.config),
        n_features=pipeline.config.n_features,
        alternate_sign=False,
        norm=None,
    )
    for text in [*TEXTS[:50], "Ünïcödé prompt — with “quotes” and emoji 🚀", "", "a"]:
        want = reference.transform([text])
        want.sum_duplicates()
        idx, counts = pipeline.hash_one(text)
        assert idx.tolist() == sorted(want.indices.tolist())
        order = np.argsort(want.indices)
        assert counts.tolist() == want.data[order].tolist()


ODD = [
    "Ünïcödé PROMPT — with “quotes”, tabs\tand\n\nnewlines  and  double  spaces 🚀",
    "a",
    "",
    "   ",
    "x" * 3000,
    " ".join(TEXTS[:40]),  # longer than max_chars
    "can't won't don't: (parenthesised) [bracketed] {braced} co-operate e-mail",
]


def test_one_prompt_equals_the_batch(pipeline: FeaturePipeline) -> None:
    texts = TEXTS[:80] + ODD
    batch = pipeline.transform(texts)
    for _ in range(2):  # cold and warm caches
        for i, text in enumerate(texts):
            assert np.allclose(pipeline.transform_one(text), batch[i], atol=1e-5), text[:40]


def test_vectors_are_unit_length_and_unknown_text_is_zero(pipeline: FeaturePipeline) -> None:
    norms = np.linalg.norm(pipeline.transform(TEXTS[:20]), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert pipeline.dims == 32
    assert not np.any(pipeline.transform_one("qqqq zzzz xxxx"))


def test_similar_prompts_are_close(pipeline: FeaturePipeline) -> None:
    a = pipeline.transform_one("What is the capital of Peru?")
    b = pipeline.transform_one("What is the capital of Kenya?")
    c = pipeline.transform_one("Prove that the sum of the first 7 odd numbers equals 7 squared.")
    assert float(a @ b) > float(a @ c) + 0.3


def test_only_columns_seen_twice_are_kept_and_bounded() -> None:
    fp = FeaturePipeline.fit(TEXTS, FeatureConfig(dims=16, max_features=500))
    assert len(fp.kept) == 500
    assert fp.components.shape == (500, 16)
    assert np.all(np.diff(fp.kept) > 0)


def test_stored_form_round_trips(pipeline: FeaturePipeline) -> None:
    again = FeaturePipeline.load(pipeline.params(), pipeline.arrays())
    for text in TEXTS[:10]:
        assert np.array_equal(again.transform_one(text), pipeline.transform_one(text))


def test_prompt_is_cut_at_max_chars() -> None:
    fp = FeaturePipeline.fit(TEXTS, FeatureConfig(dims=8, max_chars=40))
    head = (TEXTS[1] * 3)[:40]
    long = head + " integral derive prove python" * 100
    assert np.array_equal(fp.transform_one(long), fp.transform_one(head))
    assert np.array_equal(fp.transform([long]), fp.transform([head]))


def test_embeddings_are_appended_with_their_weight() -> None:
    fp = FeaturePipeline.fit(TEXTS, FeatureConfig(dims=8, embedding_weight=0.25), embedding_dims=3)
    z = fp.transform_one(TEXTS[0], np.array([3.0, 0.0, 4.0], np.float32))
    assert z.shape == (11,)
    assert np.isclose(float(z[8:] @ z[8:]), 0.25, atol=1e-5)
    assert np.isclose(float(z @ z), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="embedding"):
        fp.transform_one(TEXTS[0])
    with pytest.raises(ValueError, match="dimensions"):
        fp.transform_one(TEXTS[0], np.ones(4, np.float32))
