"""Per-language routing: texts in the languages a team mapped (CARELINE_LANGUAGE_MODELS) go to another
classifier (any local Hugging Face text-classification model), everything else to the main one.

Only mapped languages reach the other model; the main model never sees them, so their labels carry no
"language not supported" flag (the team chose that model for that language). Language comes from the
same detector the main model uses (classify/language.py)."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from classify.base import Classifier, Labels
from classify.language import detect_many

logger = logging.getLogger(__name__)


class LanguageRouted:
    """Classifier protocol: `primary` for every text whose detected language is not in `by_language`."""

    def __init__(self, primary: Classifier, by_language: Mapping[str, Classifier]) -> None:
        self.primary = primary
        self.by_language = {code.lower(): clf for code, clf in by_language.items()}
        mapped = ",".join(f"{code}={clf.version}" for code, clf in sorted(self.by_language.items()))
        self.version = f"{primary.version}+{mapped}" if mapped else primary.version

    def classify(self, texts: Sequence[str]) -> list[Labels]:
        texts = [t if isinstance(t, str) else "" for t in texts]
        if not texts:
            return []
        languages = detect_many(texts)
        groups: dict[str | None, list[int]] = {}
        for k, language in enumerate(languages):
            groups.setdefault(language if language in self.by_language else None, []).append(k)
        out: list[Labels | None] = [None] * len(texts)
        for language, idx in groups.items():
            clf = self.primary if language is None else self.by_language[language]
            for k, lab in zip(idx, clf.classify([texts[k] for k in idx]), strict=True):
                if language is not None:
                    lab.language = language
                    lab.needs_review, lab.review_reason = False, None
                out[k] = lab
        return [lab for lab in out if lab is not None]
