"""Loading the shipped model offline from the installed packages, and the first-use build."""
from __future__ import annotations

import os
import time
from pathlib import Path

from classify import load_classifier
from classify.artifact import DEFAULT_DIR
from classify.base import INTENTS, SENTIMENTS, Classifier
from classify.minilm import CarelineMiniLM


def test_shipped_artifact_is_small() -> None:
    size = sum(p.stat().st_size for p in DEFAULT_DIR.rglob("*") if p.is_file())
    assert 0 < size < 20 * 1024 * 1024


def test_first_use_build_is_quick_and_offline(build_seconds: float, model_cache: Path) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert build_seconds < 60
    built = list(model_cache.rglob("model.int8.onnx"))
    assert len(built) == 1 and built[0].stat().st_size > 1_000_000


def test_warm_load_under_five_seconds(int8: CarelineMiniLM, model_cache: Path) -> None:
    t0 = time.perf_counter()
    clf = CarelineMiniLM(backend="onnx-int8", cache_dir=model_cache)
    assert time.perf_counter() - t0 < 5
    assert clf.version == "careline-minilm-3+ml1+onnx-int8"


def test_load_classifier_default_name(model_cache: Path, int8: CarelineMiniLM) -> None:
    clf = load_classifier("careline-minilm", cache_dir=model_cache)
    assert isinstance(clf, Classifier)
    assert clf.version.startswith("careline-minilm-3+ml1+onnx-int8")


def test_labels_are_sensible(int8: CarelineMiniLM) -> None:
    out = int8.classify([
        "My order never arrived and nobody answers the phone. Worst service ever.",
        "Thank you so much, the support team was amazing!",
    ])
    assert out[0].sentiment == "negative" and out[0].intent == "complaint"
    assert out[1].sentiment == "positive" and out[1].intent == "praise"
    for lab in out:
        assert set(lab.sentiment_scores) == set(SENTIMENTS) and set(lab.intent_scores) == set(INTENTS)
        total = sum(lab.sentiment_scores.values())
        assert abs(total - 1) < 0.01 and abs(sum(lab.intent_scores.values()) - 1) < 0.01
        assert lab.language == "en"


def test_lexicon_placeholder() -> None:
    clf = load_classifier("lexicon")
    assert clf.version == "placeholder-lexicon-1"
    assert clf.classify(["thanks, great job"])[0].sentiment == "positive"
