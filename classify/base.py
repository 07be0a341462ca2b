"""The `Classifier` protocol and the `Labels` it returns. A leaf: never imports `careline`."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
INTENTS: tuple[str, ...] = ("complaint", "praise", "question", "other")


@dataclass
class Labels:
    sentiment: str
    intent: str
    sentiment_scores: dict[str, float] = field(default_factory=dict)
    intent_scores: dict[str, float] = field(default_factory=dict)
    language: str | None = None
    # the unit-length sentence embedding from the classifier's own encoder pass (float32, 384 values
    # for careline-minilm); None for classifiers that have none (the lexicon, a Hugging Face swap)
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    # set by the classifier when its labels are not worth trusting for this text (language_reason);
    # `review` adds the low-confidence case, which depends on a setting
    needs_review: bool = False
    review_reason: str | None = None

    @property
    def sentiment_score(self) -> float:
        return float(self.sentiment_scores.get(self.sentiment, 0.0))

    @property
    def intent_score(self) -> float:
        return float(self.intent_scores.get(self.intent, 0.0))


LOW_CONFIDENCE = "low confidence"
_UNSUPPORTED = "language not supported by the model"


def language_reason(language: str | None, validated: Sequence[str] | None) -> str | None:
    """Why labels for a text in `language` need a person, or None. `validated` is the classifier's list
    of languages with a measured score (None: the classifier makes no claim, e.g. a user's own model).
    No detected language (emoji-only, a word or two) is no evidence of another language: not flagged."""
    if validated is None or not language:
        return None
    code = language.split("-")[0].split("_")[0].lower()
    return None if code in validated else f"{_UNSUPPORTED} ({code})"


def is_language_reason(reason: str | None) -> bool:
    return bool(reason) and str(reason).startswith(_UNSUPPORTED)


def language_unsupported(m: object) -> bool:
    """Flagged because the model has no validated score for the mention's language (not mere low confidence).
    Reads any object with needs_review/review_reason (a stored Mention), so priority, routing and the
    classification service share it without importing each other."""
    return bool(getattr(m, "needs_review", False)) and is_language_reason(getattr(m, "review_reason", None))


def review(labels: Labels, low_confidence: float) -> tuple[bool, str | None]:
    """(needs_review, review_reason) for stored and exported labels: the classifier's own reason (an
    unsupported language) first, then low confidence. The one rule, used by the database and the file mode."""
    if labels.needs_review or labels.review_reason:
        return True, labels.review_reason
    if min(labels.sentiment_score, labels.intent_score) < low_confidence:
        return True, LOW_CONFIDENCE
    return False, None


@runtime_checkable
class Classifier(Protocol):
    version: str

    def classify(self, texts: Sequence[str]) -> list[Labels]: ...


class ModelError(Exception):
    """The model could not be loaded or run; the message names the file or setting to fix."""
