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

    @property
    def sentiment_score(self) -> float:
        return float(self.sentiment_scores.get(self.sentiment, 0.0))

    @property
    def intent_score(self) -> float:
        return float(self.intent_scores.get(self.intent, 0.0))


@runtime_checkable
class Classifier(Protocol):
    version: str

    def classify(self, texts: Sequence[str]) -> list[Labels]: ...


class ModelError(Exception):
    """The model could not be loaded or run; the message names the file or setting to fix."""
