"""XLM-T's multilingual tweet sentiment (shared/data/multilingual-sentiment, see its SOURCE.txt):
train and validation splits per language, loaded as `Example`s. The test splits are not in shared/data
and are never used."""
from __future__ import annotations

from pathlib import Path

from classify.data import Example

# ISO 639-1 code -> the folder's file prefix
LANGUAGES = {"ar": "arabic", "de": "german", "en": "english", "es": "spanish", "fr": "french",
             "hi": "hindi", "it": "italian", "pt": "portuguese"}
# the languages issue #19's pooled target is about (Latin script, readable by the uncased vocabulary)
POOLED = ("es", "fr", "de", "it", "pt")


def parse_languages(spec: str) -> list[str]:
    """"es,fr" -> ["es", "fr"]; "all" -> every language; unknown codes are a ValueError naming them."""
    codes = list(LANGUAGES) if spec.strip() == "all" else [c.strip() for c in spec.split(",") if c.strip()]
    unknown = [c for c in codes if c not in LANGUAGES]
    if unknown:
        raise ValueError(f"no multilingual data for {', '.join(unknown)}; choose from {', '.join(LANGUAGES)}")
    return codes


def load_multilingual(data: Path, language: str, split: str) -> list[Example]:
    """One language's `train` or `val` split; source is "xlmt-<lang>-<split>"."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be train or val, not {split!r} (the test split is not used)")
    d = data / "multilingual-sentiment"
    name = LANGUAGES[language]
    texts = (d / f"{name}_{split}_text.txt").read_text(encoding="utf-8").split("\n")
    labels = (d / f"{name}_{split}_labels.txt").read_text(encoding="utf-8").split()
    texts = texts[: len(labels)] if len(texts) > len(labels) and not any(texts[len(labels):]) else texts
    if len(texts) != len(labels):
        raise ValueError(f"{d}/{name}_{split}: {len(texts)} texts but {len(labels)} labels")
    return [Example(t.strip(), int(y), -1, f"xlmt-{language}-{split}") for t, y in zip(texts, labels)]


def available(data: Path) -> bool:
    return (data / "multilingual-sentiment" / "spanish_val_text.txt").is_file()
