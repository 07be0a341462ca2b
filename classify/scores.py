"""One model's scores on the evaluation sets: filled by classify/evaluate.py (TweetEval, X-CI, GoEmotions)
and classify/slices.py (languages, emoji, brand sample), rendered by both. Its own module so the two
never import each other."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Scores:
    name: str
    version: str
    seconds: float = 0.0
    sentiment_macro_recall: float = 0.0
    sentiment_recall: dict[str, float] = field(default_factory=dict)
    sentiment_accuracy: float = 0.0
    xci_macro_f1: float = 0.0
    goemotions: dict[str, dict[str, float]] = field(default_factory=dict)
    goemotions_confusion: list[list[int]] = field(default_factory=list)
    labels: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # revision 3 (classify/slices.py): validation macro-F1 per language (+ "pooled" es/fr/de/it/pt), the
    # emoji slice, and precision/recall per intent on the brand sample's eval part
    languages: dict[str, float] = field(default_factory=dict)
    emoji: dict[str, float] = field(default_factory=dict)
    brand: dict[str, dict] = field(default_factory=dict)
