"""Classifiers: `load_classifier(name)` returns something that implements `classify.base.Classifier`."""
from __future__ import annotations

from classify.base import Classifier, Labels, ModelError


def load_classifier(name: str = "careline-minilm", *, label_map: dict[str, str] | None = None, device: str | None = None) -> Classifier:
    if name == "lexicon":
        from classify.lexicon import LexiconClassifier

        return LexiconClassifier()
    raise ModelError(f"unknown model {name!r} (the trained model lands with the classifier issue)")


__all__ = ["Classifier", "Labels", "ModelError", "load_classifier"]
