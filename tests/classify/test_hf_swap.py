"""A swapped-in Hugging Face text-classification model, built locally (tiny, random, no download)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classify import load_classifier
from classify.artifact import base_model_dir
from classify.base import ModelError
from classify.hf import intent_from, resolve_label_map


def _tiny_model(path: Path, id2label: dict[int, str]) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    BertTokenizerFast(vocab_file=str(base_model_dir() / "vocab.txt")).save_pretrained(path)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    BertForSequenceClassification(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("tiny-hf"), {0: "NEG", 1: "NEU", 2: "POS"})


def test_swapped_model_with_label_map(tiny: Path) -> None:
    clf = load_classifier(str(tiny), label_map={"NEG": "negative", "NEU": "neutral", "POS": "positive"})
    assert clf.version == f"hf:{tiny}"
    out = clf.classify(["where is my refund?", "", "merci beaucoup", "x" * 10_000])
    assert len(out) == 4
    for lab in out:
        assert lab.sentiment in ("negative", "neutral", "positive")
        assert abs(sum(lab.sentiment_scores.values()) - 1) < 1e-3
        assert abs(sum(lab.intent_scores.values()) - 1) < 1e-3
    assert out[2].language == "fr"


def test_known_label_names_need_no_map(tmp_path: Path) -> None:
    path = _tiny_model(tmp_path / "m", {0: "negative", 1: "neutral", 2: "positive"})
    assert load_classifier(str(path)).classify(["hi"])[0].sentiment in ("negative", "neutral", "positive")


def test_unmapped_label_is_a_clear_error(tiny: Path) -> None:
    with pytest.raises(ModelError, match="CARELINE_MODEL_LABEL_MAP"):
        load_classifier(str(tiny), label_map={"NEG": "negative", "NEU": "neutral"})


def test_two_model_labels_can_share_one_sentiment() -> None:
    targets = resolve_label_map({0: "1 star", 1: "2 stars", 2: "3 stars", 3: "4 stars", 4: "5 stars"}, None)
    assert targets == ["negative", "negative", "neutral", "positive", "positive"]


def test_intent_rule() -> None:
    assert intent_from("Can you help me?", np.array([0.1, 0.6, 0.3])).argmax() == 2  # question
    assert intent_from("why is it broken again?", np.array([0.8, 0.1, 0.1])).argmax() == 0  # complaint
    assert intent_from("love it", np.array([0.05, 0.1, 0.85])).argmax() == 1  # praise
    assert intent_from("landed in Paris", np.array([0.1, 0.8, 0.1])).argmax() == 3  # other
