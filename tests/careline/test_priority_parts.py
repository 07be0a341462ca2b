"""The priority parts' hand optimisations (services/priority.py) give what the plain formula gives: a zero
part skips its rounding, the horizon's timedelta is built once per setting."""
from __future__ import annotations

import math
from datetime import timedelta
from types import SimpleNamespace

from careline.services import priority
from tests.factories import utc

NOW = utc(2026, 3, 1, 12)


def _reference(followers: int | None, intent: str | None, intent_score: float | None) -> float:
    reach = round(min(30.0, 6.0 * math.log10((followers or 0) + 1)), 2)
    confidence = round(5.0 * (intent_score or 0.0), 2) if intent in ("complaint", "question") else 0.0
    return round(priority.INTENT_POINTS.get(intent, 5.0) + priority.SENTIMENT_POINTS[None] + reach + 10.0
                 + confidence, 2)


def test_score_with_zero_and_nonzero_parts_matches_the_formula() -> None:
    for followers in (None, 0, 1, 9, 12_345, 10**9):
        for intent, score in ((None, None), ("complaint", 0.0), ("complaint", -0.0), ("question", 0.8333),
                              ("praise", 0.9)):
            m = SimpleNamespace(status="new", intent=intent, intent_score=score, author_followers=followers,
                                created_at=NOW, respond_by=None)
            assert priority.score_mention(m, NOW, 7.0) == _reference(followers, intent, score)
    parts = priority.parts_of(SimpleNamespace(status="new", author_followers=0, created_at=NOW), NOW, 7.0)
    assert parts.reach == 0.0 and parts.confidence == 0.0


def test_the_horizon_is_the_setting_in_days() -> None:
    for horizon in (7.0, 0.5, 7.0, 30):
        inside, outside = NOW - timedelta(days=horizon), NOW - timedelta(days=horizon, microseconds=1)
        assert priority.deadline_points(None, inside, "new", False, NOW, horizon) == (0.0, "")
        assert priority.deadline_points(None, outside, "new", False, NOW, horizon)[0] == priority.STALE_POINTS
    assert priority._days(7.0) is priority._days(7.0) and priority._days(0.5) == timedelta(hours=12)
