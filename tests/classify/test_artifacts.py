"""The int8 delta reconstructs fine-tuned weights closely; metrics and data mapping helpers."""
from __future__ import annotations

import numpy as np

from classify.artifact import pack_delta, unpack_delta
from classify.data import goemotions_intent
from classify.metrics import confusion, macro_f1, macro_recall
from classify.text import dedupe_key, preprocess


def test_delta_roundtrip() -> None:
    rng = np.random.default_rng(0)
    base = {"a.weight": rng.normal(size=(8, 16)).astype(np.float32), "a.bias": np.zeros(8, np.float32),
            "embeddings.word_embeddings.weight": rng.normal(size=(10, 4)).astype(np.float32)}
    tuned = {k: v + rng.normal(scale=0.01, size=v.shape).astype(np.float32) for k, v in base.items()}
    tuned["embeddings.word_embeddings.weight"] = base["embeddings.word_embeddings.weight"]
    tuned["heads.sentiment.weight"] = rng.normal(size=(3, 4)).astype(np.float32)
    tuned["heads.intent.weight"] = rng.normal(size=(4, 4)).astype(np.float32)
    packed = pack_delta(tuned, base)
    assert packed["a.weight.q"].dtype == np.int8 and "embeddings.word_embeddings.weight.q" not in packed
    out = unpack_delta(packed, base)
    assert np.abs(out["a.weight"] - tuned["a.weight"]).max() < 0.01 * 4 / 127
    np.testing.assert_allclose(out["a.bias"], tuned["a.bias"], atol=1e-7)
    np.testing.assert_array_equal(out["heads.intent.weight"], tuned["heads.intent.weight"])
    # a run that trained the word embeddings (TrainSettings.train_embeddings) ships them: rows it moved
    # come back within the int8 step, rows no text used come back exactly
    emb = "embeddings.word_embeddings.weight"
    tuned[emb] = base[emb].copy()
    tuned[emb][2] += 0.05
    packed = pack_delta(tuned, base)
    assert packed[f"{emb}.q"].dtype == np.int8
    out = unpack_delta(packed, base)
    assert np.abs(out[emb][2] - tuned[emb][2]).max() < 0.05 / 127
    np.testing.assert_array_equal(out[emb][[0, 1, 3]], base[emb][[0, 1, 3]])


def test_metrics() -> None:
    gold, pred = [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0]
    assert confusion(gold, pred, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert abs(macro_recall(gold, pred, 3) - (0.5 + 1 + 2 / 3) / 3) < 1e-9
    assert 0 < macro_f1(gold, pred, 3) < 1


def test_goemotions_mapping() -> None:
    names = ["admiration", "anger", "curiosity", "joy", "neutral", "gratitude"]
    assert goemotions_intent([0, 5], names) == 1  # praise
    assert goemotions_intent([1], names) == 0  # complaint
    assert goemotions_intent([2], names) == 2  # question
    assert goemotions_intent([4], names) == 3  # other
    assert goemotions_intent([3], names) == -1  # joy: no clear intent
    assert goemotions_intent([0, 1], names) == -1  # two groups


def test_text_normalisation() -> None:
    assert preprocess("@Delta my bag https://t.co/x  lost") == "@user my bag http lost"
    assert dedupe_key('He said \\u2019hi\\u2019 "there" @bob http://x.y') == dedupe_key("he said ’hi’ there @user")


def test_language_detection() -> None:
    from classify.language import detect

    assert detect("Where is my parcel? It is five days late") == "en"
    assert detect("Der Kundenservice war super, danke!") == "de"
    assert detect("") is None and detect("😂😂") is None and detect("1234 !!") is None
    assert detect("thanks!") is None  # one word: too little to tell, not "Xhosa"
