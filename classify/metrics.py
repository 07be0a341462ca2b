"""Classification metrics with numpy alone (no scikit-learn at run time)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion(gold: Sequence[int], pred: Sequence[int], n: int) -> np.ndarray:
    """Rows are gold classes, columns predictions."""
    m = np.zeros((n, n), dtype=np.int64)
    for g, p in zip(gold, pred):
        m[g, p] += 1
    return m


def per_class(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, f1) for each class of a confusion matrix; 0 where undefined."""
    tp = np.diag(m).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.nan_to_num(tp / m.sum(0))
        r = np.nan_to_num(tp / m.sum(1))
        f = np.nan_to_num(2 * p * r / (p + r))
    return p, r, f


def macro_recall(gold: Sequence[int], pred: Sequence[int], n: int) -> float:
    m = confusion(gold, pred, n)
    present = m.sum(1) > 0
    return float(per_class(m)[1][present].mean())


def macro_f1(gold: Sequence[int], pred: Sequence[int], n: int) -> float:
    return float(per_class(confusion(gold, pred, n))[2].mean())


def accuracy(gold: Sequence[int], pred: Sequence[int]) -> float:
    g, p = np.asarray(gold), np.asarray(pred)
    return float((g == p).mean()) if len(g) else 0.0
