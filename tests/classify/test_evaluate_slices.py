"""`careline evaluate` reports every language, the emoji slice and the brand sample (skips without
../shared/data). The lexicon classifier stands in for the model: this checks the report, not a score."""
from __future__ import annotations

from pathlib import Path

import pytest

from classify import load_classifier, slices
from classify.evaluate import n_texts, render, score

pytestmark = pytest.mark.shared


def test_the_report_has_languages_emoji_and_brand(data_dir: Path) -> None:
    seen: list[int] = []
    s = score("lexicon", load_classifier("lexicon"), data_dir, seen.append)
    assert sum(seen) == n_texts(data_dir)  # the progress bar's total matches what is scored
    assert set(s.languages) == {"ar", "de", "en", "es", "fr", "hi", "it", "pt", "pooled"}
    assert all(0.0 <= v <= 1.0 for v in s.languages.values())
    assert s.emoji["n"] > 300 and 0.0 <= s.emoji["macro_f1"] <= 1.0
    assert s.brand["complaint"]["support"] == 144 and s.brand["question"]["support"] == 44
    text = render([s], data_dir)
    for heading in ("## Sentiment per language", "## Emoji slice", "## Brand questions and complaints"):
        assert heading in text


def test_the_emoji_slice_finds_emoji_and_emoticons() -> None:
    assert slices.has_emoji("lost my bag 😡") and slices.has_emoji("thanks :)")
    assert not slices.has_emoji("at 10:30 see https://t.co/x")
