"""Training end to end on a small slice of the real data, on the CPU (slow: run with -m slow)."""
from __future__ import annotations

from pathlib import Path

import pytest

import classify.train as train_mod
from classify.minilm import CarelineMiniLM

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def test_train_writes_a_loadable_artifact(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = train_mod.training_pool
    monkeypatch.setattr(train_mod, "training_pool", lambda d, topic=False: tuple(x[:200] for x in pool(d, topic=topic)))
    xci, val, goe = train_mod.load_xci, train_mod.load_tweeteval_val, train_mod.load_goemotions
    monkeypatch.setattr(train_mod, "load_xci", lambda d: xci(d)[:150])
    monkeypatch.setattr(train_mod, "load_tweeteval_val", lambda d: val(d)[:100])
    monkeypatch.setattr(train_mod, "load_goemotions", lambda d, s: goe(d, s)[:100])
    corrections = [("the app ate my order", "negative", "complaint"), ("cheers!", "positive", None)]
    out = tmp_path / "artifact"
    result = train_mod.train(data_dir, out, train_mod.TrainSettings(epochs=1, batch_size=32, xci_repeat=2, fold=0),
                             corrections=corrections, device="cpu")
    assert 0 <= result["final"]["tweeteval_val_macro_recall"] <= 1
    assert "xci_holdout_macro_f1" in result["final"]
    clf = CarelineMiniLM(out, cache_dir=tmp_path / "cache")
    assert len(clf.classify(["where is my parcel?", "great stuff"])) == 2
