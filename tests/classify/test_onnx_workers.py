"""Batches spread over ONNX workers come back in order, with the same numbers as one worker."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from classify.minilm import CarelineMiniLM
from classify.onnx import OnnxRunner

TEXTS = [f"{'so very ' * (n % 9)}late again, order {n}" if n % 3 else f"thanks, great help {n}!" for n in range(90)]


def test_workers_change_nothing_but_speed(int8: CarelineMiniLM, model_cache: Path) -> None:
    assert int8.runner.workers >= 1
    one = CarelineMiniLM(backend="onnx-int8", cache_dir=model_cache, threads=1)
    four = CarelineMiniLM(backend="onnx-int8", cache_dir=model_cache, threads=4)
    assert one.runner.workers == 1 and four.runner.workers == 4
    a, b = one.predict_proba(TEXTS), four.predict_proba(TEXTS)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert [lab.language for lab in one.classify(TEXTS)] == [lab.language for lab in four.classify(TEXTS)]


def test_run_many_keeps_order(int8: CarelineMiniLM) -> None:
    runner = int8.runner
    assert isinstance(runner, OnnxRunner)
    batches = [int8.tokenizer.pad(int8.tokenizer.encode(TEXTS[k:k + 7])) for k in range(0, 63, 7)]
    together = list(runner.run_many(batches))
    alone = [runner.run(x, m) for x, m in batches]
    for (s1, i1, e1), (s2, i2, e2) in zip(together, alone):
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(e1, e2)
