"""The hand-labelled brand sample (docs/data/ibm_brand_labels.tsv + docs/brand-labelling.md) and the
multilingual loaders; the parts that read ../shared skip without it."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from classify import brand, finetune, multilingual
from classify.data import load_tweeteval_val
from classify.text import dedupe_key


def test_the_label_file_holds_ids_and_labels_only() -> None:
    rows = brand.read_labels()
    assert len(rows) == 300 and len({r[0] for r in rows}) == 300
    assert Counter(r[2] for r in rows) == {"train": 100, "eval": 200}
    assert {r[1] for r in rows} <= {"complaint", "question", "other", "praise"}
    assert all(r[0].isdigit() for r in rows)  # tweet ids, never texts (those stay in ../shared)


def test_a_bad_label_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "labels.tsv"
    bad.write_text("tweet_id\tlabel\tsplit\n1\tangry\ttrain\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: label 'angry'"):
        brand.read_labels(bad)


@pytest.mark.shared
def test_labels_join_dev_first_turns_and_the_parts_do_not_overlap(data_dir: Path) -> None:
    train, held = brand.load_brand(data_dir, "train"), brand.load_brand(data_dir, "eval")
    assert len(train) == 100 and len(held) == 200
    assert not {dedupe_key(e.text) for e in train} & {dedupe_key(e.text) for e in held}
    test_ids = set(brand.first_turns(data_dir, "test.json"))
    assert not test_ids & {r[0] for r in brand.read_labels()}  # nothing from the test split


@pytest.mark.shared
def test_multilingual_training_never_sees_a_validation_tweet(data_dir: Path) -> None:
    held = {dedupe_key(e.text) for e in load_tweeteval_val(data_dir)}
    for lang in multilingual.LANGUAGES:
        held |= {dedupe_key(e.text) for e in multilingual.load_multilingual(data_dir, lang, "val")}
    extra = finetune.extra_examples(data_dir, ["en", "es"], 1, 0)
    assert extra and not held & {dedupe_key(e.text) for e in extra}
    # XLM-T's English train split overlaps TweetEval validation heavily: most of it is dropped
    assert sum(e.source == "xlmt-en-train" for e in extra) < 600


def test_language_codes_are_checked() -> None:
    assert multilingual.parse_languages("es, fr") == ["es", "fr"]
    assert multilingual.parse_languages("all") == list(multilingual.LANGUAGES)
    with pytest.raises(ValueError, match="no multilingual data for xx"):
        multilingual.parse_languages("es,xx")
    with pytest.raises(ValueError, match="test split is not used"):
        multilingual.load_multilingual(Path("."), "es", "test")


def test_validated_languages_follow_the_threshold() -> None:
    scores = {"es": 0.61, "de": 0.55, "ar": 0.41, "en": 0.70, "pooled": 0.58}
    assert finetune.validated_languages(scores) == ["en", "de", "es"]


def test_continuing_from_an_artifact_undoes_its_logit_adjustment() -> None:
    import numpy as np

    from classify.artifact import DEFAULT_DIR, load_artifact

    config, shipped = load_artifact(DEFAULT_DIR)
    _, start = finetune.load_init(DEFAULT_DIR)
    counts = np.asarray(config.train["sentiment_counts"], np.float64)
    tau = 1.0 - config.train["settings"]["sentiment_balance"]
    undone = start["heads.sentiment.bias"] - shipped["heads.sentiment.bias"]
    np.testing.assert_allclose(undone, tau * np.log(counts / counts.sum()), atol=1e-5)
    np.testing.assert_array_equal(start["heads.intent.bias"], shipped["heads.intent.bias"])
