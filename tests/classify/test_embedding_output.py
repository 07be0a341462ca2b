"""The sentence embedding comes out of the same encoder pass as the labels, unit length, and the int8
graph's embedding agrees with the fp32 one (as the labels do)."""
from __future__ import annotations

import numpy as np

from classify.minilm import CarelineMiniLM
from tests.classify.test_quantised import SAMPLE


def test_labels_carry_unit_embeddings(int8: CarelineMiniLM) -> None:
    labels = int8.classify(SAMPLE[:12])
    vecs = np.stack([lab.embedding for lab in labels])  # type: ignore[misc]
    assert vecs.shape == (12, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


def test_int8_embedding_agrees_with_fp32(int8: CarelineMiniLM, fp32: CarelineMiniLM) -> None:
    e8, e32 = int8.embed(SAMPLE), fp32.embed(SAMPLE)
    cos = (e8 * e32).sum(1)
    assert cos.mean() >= 0.97 and cos.min() >= 0.9
    # neighbours are the same ones: each text's nearest other text agrees in most cases
    def nearest(e: np.ndarray) -> np.ndarray:
        sim = e[:12] @ e[:12].T
        np.fill_diagonal(sim, -1)
        return sim.argmax(1)
    assert (nearest(e8) == nearest(e32)).mean() >= 0.75


def test_embedding_depends_on_meaning(fp32: CarelineMiniLM) -> None:
    e = fp32.embed(["they lost my suitcase at the airport", "my luggage never arrived, bag missing",
                    "how do I change the email on my account?"])
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])
