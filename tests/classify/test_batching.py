"""Batching edge cases: empty, very long, emoji-only and non-English texts; order is preserved."""
from __future__ import annotations

import numpy as np

from classify.minilm import CarelineMiniLM, bucket_batches

EDGE = ["", "x" * 10_000, "😂😂😂🔥", "¿Dónde está mi pedido? Llevo una semana esperando.",
        "荷物がまだ届きません。", "Der Kundenservice war super, danke!", "   ", "ok"]


def test_bucket_batches_cover_every_index_once() -> None:
    lengths = [5, 120, 7, 7, 30, 1, 128, 64] * 20
    batches = bucket_batches(lengths, max_batch=16, max_tokens=512)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 16 and max(lengths[i] for i in b) * len(b) <= 512


def test_bucket_batches_empty() -> None:
    assert bucket_batches([]) == []


def test_edge_cases(int8: CarelineMiniLM) -> None:
    out = int8.classify(EDGE)
    assert len(out) == len(EDGE)
    assert out[0].language is None and out[2].language is None and out[6].language is None
    assert out[3].language == "es" and out[4].language == "ja" and out[5].language == "de"
    for lab in out:
        assert abs(sum(lab.sentiment_scores.values()) - 1) < 0.01


def test_empty_input(int8: CarelineMiniLM) -> None:
    assert int8.classify([]) == []


def test_order_is_preserved_across_buckets(int8: CarelineMiniLM) -> None:
    texts = [f"{'very ' * (i % 13)}bad service number {i}" if i % 2 else f"great {i} 👍" for i in range(60)]
    together = int8.predict_proba(texts)[0]
    alone = np.stack([int8.predict_proba([t])[0][0] for t in texts[:12]])
    # int8 activations are scaled per batch, so batch companions move probabilities by ~1e-2
    np.testing.assert_allclose(together[:12], alone, atol=0.03)
    assert (together[:12].argmax(1) == alone.argmax(1)).all()


def test_long_text_is_truncated_not_rejected(int8: CarelineMiniLM) -> None:
    ids = int8.tokenizer.encode(["word " * 5000])
    assert len(ids[0]) == int8.config.max_len
