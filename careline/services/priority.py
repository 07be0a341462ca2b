"""The inbox priority score: who needs an answer first. The one place it is computed and kept fresh.

Stored on the row (indexed) so the inbox sorts a million mentions with an index walk and no computing;
it is recomputed whenever an input changes (classification, correction, status, first response, routing,
escalation) and, because part of it moves with the clock, by `refresh_due` every minute.

The time part is a step function of the deadline (respond_by, see services/sla.py), so a row's score only
changes at a few known instants: 4 h and 1 h before its deadline, at it, and a day after; and when the post
passes the horizon (CARELINE_INBOX_HORIZON_DAYS, default 7), where it drops below every fresher post
(still found by filters). `refresh_due` rescores only rows that crossed such an instant since its last run,
found through the ix_mention_due and created_at indexes: measured in benchmarks/care_scan.py.
Age is the tie-breaker in the inbox order (newest first among equals) and is shown in the explanation.
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.services import deadline
from classify.base import language_unsupported

log = logging.getLogger(__name__)

INTENT_POINTS = {"complaint": 40.0, "question": 30.0, "praise": 15.0, "other": 5.0, None: 20.0}
SENTIMENT_POINTS = {"negative": 20.0, "neutral": 5.0, "positive": 0.0, None: 5.0}
OPEN_STATUSES = ("new", "assigned")
CLOSED_STATUSES = ("resolved", "ignored", "waiting")  # waiting on customer: nothing for us to do until they write
# (minutes from now, points, label); evaluated top-down, first match wins. A step applies when the mention
# will be overdue by then (services/deadline.py), so "overdue" starts exactly when the deadline rule says
# (strictly after respond_by: at the deadline it is still "about to breach"), and each step like it
DEADLINE_STEPS: tuple[tuple[float, float, str], ...] = (
    (-1440.0, -15.0, "gone cold: overdue over a day"),  # yesterday's miss must not bury today's near-miss
    (0.0, 20.0, "overdue"),
    (60.0, 30.0, "about to breach"),
    (240.0, 10.0, "due soon"),
)
# the steps' minutes as timedeltas, built once (scoring is per row)
_STEP_SHIFTS = tuple((timedelta(minutes=limit), points, label) for limit, points, label in DEADLINE_STEPS)
STALE_POINTS = -200.0  # more than any other part can add: below every post inside the horizon
REFRESH_KEY = "urgency_refreshed_at"
# every column score_mention reads: a reader of plain columns (rows.load_plain) must read them all, as an
# attribute it did not read would silently score as its default
SCORE_COLUMNS = ("status", "intent", "sentiment", "corrected_intent", "corrected_sentiment", "intent_score",
                 "author_followers", "first_response_at", "respond_by", "created_at", "priority_boost",
                 "needs_review", "review_reason")


def horizon_days() -> float:
    from careline.settings import get_settings

    return float(get_settings().inbox_horizon_days)


@dataclass(frozen=True)
class PriorityParts:
    intent: float
    sentiment: float
    reach: float
    unanswered: float
    confidence: float
    deadline: float = 0.0
    boost: float = 0.0
    deadline_label: str = ""

    @property
    def total(self) -> float:
        return _total(self.intent, self.sentiment, self.reach, self.unanswered, self.confidence, self.deadline,
                      self.boost)


def _total(intent: float, sentiment: float, reach: float, unanswered: float, confidence: float, deadline: float,
           boost: float) -> float:
    """The score from its parts (PriorityParts.total, and score_mention without building the parts)."""
    return round(intent + sentiment + reach + unanswered + confidence + deadline + boost, 2)


@functools.lru_cache(maxsize=16)
def _days(horizon: float) -> timedelta:
    """timedelta(days=horizon), built once per setting: building it was ~0.5 µs of every score."""
    return timedelta(days=horizon)


def deadline_points(respond_by: datetime | None, created_at: datetime | None, status: str, answered: bool,
                    now: datetime, horizon: float) -> tuple[float, str]:
    """The time part: (points, what it means). Older than the horizon outweighs everything else."""
    if status not in OPEN_STATUSES:
        return 0.0, ""
    if created_at is not None and now - created_at > _days(horizon):
        return STALE_POINTS, f"older than {horizon:g} days"
    if respond_by is None or answered:
        return 0.0, ""
    # not overdue even by the last step's instant: no earlier one applies either. Most rows stop here, one
    # test instead of four (the loop alone cost ~0.3 µs a score of a row not due yet)
    if not deadline.overdue(respond_by, now + _STEP_SHIFTS[-1][0]):
        return 0.0, "not due yet"
    for shift, points, label in _STEP_SHIFTS:
        if deadline.overdue(respond_by, now + shift):
            return points, label
    return 0.0, "not due yet"


def parts(
    intent: str | None,
    sentiment: str | None,
    followers: int | None,
    status: str,
    answered: bool,
    intent_score: float | None = None,
    *,
    respond_by: datetime | None = None,
    created_at: datetime | None = None,
    boost: float = 0.0,
    now: datetime | None = None,
    horizon: float | None = None,
) -> PriorityParts:
    return PriorityParts(*_parts(intent, sentiment, followers, status, answered, intent_score, respond_by, created_at,
                                 boost, now, horizon))


_Parts = tuple[float, float, float, float, float, float, float, str]  # PriorityParts' fields, in order


def _parts(intent: str | None, sentiment: str | None, followers: int | None, status: str, answered: bool,
           intent_score: float | None, respond_by: datetime | None, created_at: datetime | None, boost: float,
           now: datetime | None, horizon: float | None) -> _Parts:
    """PriorityParts' fields as a tuple: score_mention sums them without building the frozen dataclass
    (its __init__ was a fifth of scoring a new row)."""
    reach = min(30.0, 6.0 * math.log10((followers or 0) + 1))
    unanswered = 10.0 if status in OPEN_STATUSES and not answered else 0.0
    # A confident complaint outranks a doubtful one; doubtful labels still surface via review.
    confidence = 5.0 * (intent_score or 0.0) if intent in ("complaint", "question") else 0.0
    deadline, label = deadline_points(respond_by, created_at, status, answered, now or datetime.now(timezone.utc),
                                      horizon_days() if horizon is None else horizon)
    # round(x, 2) is ~0.5 µs a float (it formats the number); a zero part (confidence on every unclassified
    # row, reach without followers) is its own rounding. With _days: 1,000 new rows 4.3 -> 2.5 µs a score
    # (timeit, load ~1.5)
    return (INTENT_POINTS.get(intent, 5.0), SENTIMENT_POINTS.get(sentiment, 5.0), round(reach, 2) if reach else reach,
            unanswered, round(confidence, 2) if confidence else confidence, deadline, float(boost or 0.0), label)


def _labels(m: object, unsupported: bool | None = None) -> tuple[str | None, str | None]:
    """(intent, sentiment) as the inbox shows them: a person's correction wins over the model.
    `unsupported`: _unsupported_language(m), when the caller has it."""
    if _unsupported_language(m) if unsupported is None else unsupported:  # the model's guess counts as no label
        return getattr(m, "corrected_intent", None), getattr(m, "corrected_sentiment", None)
    return (getattr(m, "corrected_intent", None) or getattr(m, "intent", None),
            getattr(m, "corrected_sentiment", None) or getattr(m, "sentiment", None))


def _unsupported_language(m: object) -> bool:
    """Labels for a language the model has no validated score for are guesses (a Spanish complaint came
    out neutral/other and sank to 35): until a person checks them they must not lower the score."""
    return language_unsupported(m)


def parts_of(m: object, now: datetime | None = None, horizon: float | None = None) -> PriorityParts:
    return PriorityParts(*_parts_of(m, now, horizon))


def _parts_of(m: object, now: datetime | None, horizon: float | None) -> _Parts:
    unsupported = _unsupported_language(m)  # read once (it was read twice a score)
    intent, sentiment = _labels(m, unsupported)
    return _parts(
        intent,
        sentiment,
        getattr(m, "author_followers", None),
        getattr(m, "status", "new"),
        getattr(m, "first_response_at", None) is not None,
        None if unsupported and not getattr(m, "corrected_intent", None) else getattr(m, "intent_score", None),
        getattr(m, "respond_by", None),
        getattr(m, "created_at", None),
        getattr(m, "priority_boost", 0.0) or 0.0,
        now,
        horizon,
    )


def score_mention(m: object, now: datetime | None = None, horizon: float | None = None) -> float:
    """Priority for a Mention row; closed mentions (replied, resolved, ignored, waiting) score 0. `horizon`:
    horizon_days(), read once by a caller scoring many rows (reading the setting per row was a fifth of
    scoring an escalation backlog's 6,100 rows). The parts are summed as PriorityParts.total sums them,
    without building one, _unsupported_language read once: 1,000 new rows 5.1-5.5 -> 3.8-4.0 ms, with the
    horizon passed 4.3-4.4 -> 3.0-3.1 (timeit, min of 15, three pairs, load 0.7-1.4)."""
    if getattr(m, "status", "new") in CLOSED_STATUSES:
        return 0.0
    return _total(*_parts_of(m, now, horizon)[:7])


def explain(m: object, now: datetime | None = None) -> str:
    """One line a person can read: what the score is made of, the time part included."""
    intent, sentiment = _labels(m)
    now = now or datetime.now(timezone.utc)
    p = parts_of(m, now)
    created = getattr(m, "created_at", now)
    hours = max(0.0, (now - created).total_seconds() / 3600)
    age = f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"
    due = due_text(m, now) if getattr(m, "respond_by", None) is not None else ""
    time_part = f" + deadline {p.deadline:g} ({p.deadline_label}{', ' + due if due else ''})" if p.deadline_label else ""
    boost = f" + boost {p.boost:g} (rules/escalation)" if p.boost else ""
    return (
        f"{p.total:g} = intent {intent or ('not judged (language not supported)' if _unsupported_language(m) else 'unclassified')} {p.intent:g} + sentiment {sentiment or '?'} "
        f"{p.sentiment:g} + reach {p.reach:g} + unanswered {p.unanswered:g} + confidence {p.confidence:g}"
        f"{time_part}{boost}; waiting {age} (newer first among equal scores)"
    )


def rescore(session: Session, mention_ids: list[int], now: datetime | None = None) -> int:
    """Recompute and store the priority of these mentions (bulk UPDATE); returns how many changed."""
    from careline.models import Mention

    now = now or datetime.now(timezone.utc)
    changed = 0
    for start in range(0, len(mention_ids), 1000):
        rows = session.exec(select(Mention).where(col(Mention.id).in_(mention_ids[start:start + 1000]))).all()
        updates = []
        for m in rows:
            new = score_mention(m, now)
            if new != m.priority:
                updates.append({"id": m.id, "priority": new})
        if updates:
            session.execute(sa.update(Mention).execution_options(synchronize_session=False), updates)
            changed += len(updates)
            for m in rows:
                session.expire(m, ["priority"])
    return changed


def due_clause() -> sa.ColumnElement[bool]:
    """Open and unanswered: a mention that can still be due (the time part moves, escalation can fire).
    The WHERE of the ix_mention_due index (models.DUE_WHERE), with the statuses as literals: SQLite only
    uses a partial index when the query's own terms prove its WHERE, which bound parameters do not."""
    from careline.models import Mention

    statuses: list[sa.ColumnElement[str]] = [sa.literal_column(f"'{s}'") for s in OPEN_STATUSES]
    return sa.and_(col(Mention.status).in_(statuses), col(Mention.first_response_at).is_(None))


def _crossed(since: datetime, now: datetime, horizon: float) -> list[sa.ColumnElement[bool]]:
    """Where open rows' time part may have changed in (since, now]: a deadline step or the horizon passed.

    One range per instant, each queried on its own so each walks an index (ix_mention_due, or created_at);
    an OR of them would make SQLite scan. A deadline step only moves an unanswered row (deadline_points);
    the horizon moves every open one. Each range is exactly the rows whose step did not apply at `since`
    and applies at `now`, with the steps' own strict comparisons: a deadline step is the overdue rule
    shifted (respond_by in [since + shift, now + shift)), the horizon `now - created_at > horizon`
    (created_at in [since - horizon, now - horizon)), so a row that reaches an instant exactly at one run
    is rescored by the next, not skipped.
    """
    from careline.models import Mention

    ranges = []
    for shift, _points, _label in _STEP_SHIFTS:
        ranges.append(sa.and_(due_clause(), sa.not_(deadline.overdue_clause(since + shift)),
                              deadline.overdue_clause(now + shift)))
    edge = timedelta(days=horizon)
    ranges.append(sa.and_(col(Mention.status).in_(OPEN_STATUSES), col(Mention.created_at) >= since - edge,
                          col(Mention.created_at) < now - edge))
    return ranges


def refresh_due(session: Session, now: datetime | None = None, *, full_after_days: float = 30) -> int:
    """Rescore open mentions whose time part changed since the last run; returns how many were rescored.

    The first run (or one after a long stop) looks back `full_after_days` at most; `careline sla recompute`
    re-times everything. Commits.
    """
    from careline.models import Mention
    from careline.services import app_settings

    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    last = app_settings.get(session, REFRESH_KEY)
    since = datetime.fromisoformat(last) if last else now - timedelta(days=full_after_days)
    since = max(since, now - timedelta(days=full_after_days))
    if since >= now:
        return 0
    found: set[int | None] = set()
    for where in _crossed(since, now, horizon_days()):
        found.update(session.exec(select(col(Mention.id)).where(where)))
    ids = sorted(i for i in found if i is not None)
    changed = rescore(session, ids, now)
    app_settings.put(session, REFRESH_KEY, now.isoformat(), commit=False)
    session.commit()
    if ids:
        log.info("urgency refresh: %d mention(s) crossed a deadline step, %d rescored", len(ids), changed)
    return len(ids)


def boost(session: Session, m: Any, points: float, now: datetime | None = None) -> None:
    """Raise (or lower, with negative points) a mention's priority; the caller audits and commits."""
    m.priority_boost = round((m.priority_boost or 0.0) + float(points), 2)
    m.priority = score_mention(m, now)
    session.add(m)


# -- what is due, in words (services/sla.py sets the deadline; explain() and the pages show it) --------

def time_left(m: Any, now: datetime | None = None) -> timedelta | None:
    """Time to the deadline (negative when overdue) for an open, unanswered mention; else None."""
    if m.respond_by is None or m.first_response_at is not None or m.status not in OPEN_STATUSES:
        return None
    return m.respond_by - (now or datetime.now(timezone.utc))


def humanize(delta: timedelta) -> str:
    minutes = abs(delta.total_seconds()) / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.0f} days"


def due_text(m: Any, now: datetime | None = None) -> str:
    """'due in 25 min', 'overdue 3 h', or '' when nothing is due (answered, closed, waiting on customer).
    At the deadline itself it is still due (services/deadline.py: overdue is strictly after it)."""
    now = now or datetime.now(timezone.utc)
    left = time_left(m, now)
    if left is None:
        return ""
    return f"overdue {humanize(left)}" if deadline.overdue(m.respond_by, now) else f"due in {humanize(left)}"
