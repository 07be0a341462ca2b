"""Training data assembly on the real data sets (skips without ../shared/data)."""
from __future__ import annotations

from pathlib import Path

import pytest

from classify.data import load_semeval, load_tweeteval_val, load_xci, xci_folds
from classify.text import dedupe_key

pytestmark = pytest.mark.shared


def test_validation_tweets_are_removed_from_training(data_dir: Path) -> None:
    val_keys = {dedupe_key(e.text) for e in load_tweeteval_val(data_dir)}
    assert len(val_keys) == 2000
    pool = load_semeval(data_dir, set())
    # every val tweet is in the pool (a few only among copies with conflicting labels, which are dropped)
    assert len(val_keys & {dedupe_key(e.text) for e in pool}) >= 1990
    kept = load_semeval(data_dir, val_keys)
    assert not val_keys & {dedupe_key(e.text) for e in kept}
    assert len(kept) > 45_000


def test_xci_folds_are_stratified_partitions(data_dir: Path) -> None:
    xci = load_xci(data_dir)
    folds = xci_folds(xci)
    assert sorted(i for f in folds for i in f) == list(range(len(xci)))
    shares = [sum(xci[i].intent == 0 for i in f) / len(f) for f in folds]
    assert max(shares) - min(shares) < 0.02
