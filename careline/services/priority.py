"""The inbox priority score: who needs an answer first.

Stored on the row (indexed) so the inbox sorts a million mentions without computing anything; it is
recomputed whenever an input changes (classification, correction, status, first response). Age is the
tie-breaker in the inbox order (newest first among equals) and is shown in the explanation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

INTENT_POINTS = {"complaint": 40.0, "question": 30.0, "praise": 15.0, "other": 5.0, None: 20.0}
SENTIMENT_POINTS = {"negative": 20.0, "neutral": 5.0, "positive": 0.0, None: 5.0}
OPEN_STATUSES = ("new", "assigned")


@dataclass(frozen=True)
class PriorityParts:
    intent: float
    sentiment: float
    reach: float
    unanswered: float
    confidence: float

    @property
    def total(self) -> float:
        return round(self.intent + self.sentiment + self.reach + self.unanswered + self.confidence, 2)


def parts(
    intent: str | None,
    sentiment: str | None,
    followers: int | None,
    status: str,
    answered: bool,
    intent_score: float | None = None,
) -> PriorityParts:
    reach = min(30.0, 6.0 * math.log10((followers or 0) + 1))
    unanswered = 10.0 if status in OPEN_STATUSES and not answered else 0.0
    # A confident complaint outranks a doubtful one; doubtful labels still surface via review.
    confidence = 5.0 * (intent_score or 0.0) if intent in ("complaint", "question") else 0.0
    return PriorityParts(
        intent=INTENT_POINTS.get(intent, 5.0),
        sentiment=SENTIMENT_POINTS.get(sentiment, 5.0),
        reach=round(reach, 2),
        unanswered=unanswered,
        confidence=round(confidence, 2),
    )


def _labels(m: object) -> tuple[str | None, str | None]:
    """(intent, sentiment) as the inbox shows them: a person's correction wins over the model."""
    return (getattr(m, "corrected_intent", None) or getattr(m, "intent", None),
            getattr(m, "corrected_sentiment", None) or getattr(m, "sentiment", None))


def parts_of(m: object) -> PriorityParts:
    intent, sentiment = _labels(m)
    return parts(
        intent,
        sentiment,
        getattr(m, "author_followers", None),
        getattr(m, "status", "new"),
        getattr(m, "first_response_at", None) is not None,
        getattr(m, "intent_score", None),
    )


def score_mention(m: object) -> float:
    """Priority for a Mention row; closed mentions (resolved, ignored) score 0."""
    if getattr(m, "status", "new") in ("resolved", "ignored"):
        return 0.0
    return parts_of(m).total


def explain(m: object, now: datetime | None = None) -> str:
    """One line a person can read: what the score is made of."""
    intent, sentiment = _labels(m)
    p = parts_of(m)
    now = now or datetime.now(timezone.utc)
    created = getattr(m, "created_at", now)
    hours = max(0.0, (now - created).total_seconds() / 3600)
    age = f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"
    return (
        f"{p.total:g} = intent {intent or 'unclassified'} {p.intent:g} + sentiment {sentiment or '?'} "
        f"{p.sentiment:g} + reach {p.reach:g} + unanswered {p.unanswered:g} + confidence {p.confidence:g}; "
        f"waiting {age} (newer first among equal scores)"
    )
