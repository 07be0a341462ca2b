"""The time part of the priority: near-breach beats stale, the horizon, the refresh job, the inbox order."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Mention
from careline.services import inbox, priority

NOW = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)


def _m(session: Session, created: datetime, respond_by: datetime, **kw: object) -> Mention:
    base = dict(platform="x", external_id=f"e{created.timestamp()}{kw.get('text', '')}", text=str(kw.pop("text", "t")),
                intent="complaint", sentiment="negative", intent_score=0.9, status="new", created_at=created,
                respond_by=respond_by, classified_at=created)
    base.update(kw)
    m = Mention(**base)  # type: ignore[arg-type]
    m.priority = priority.score_mention(m, NOW)
    session.add(m)
    session.commit()
    return m


def test_fresh_complaint_about_to_breach_beats_a_stale_one(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        stale = _m(session, NOW - timedelta(days=3), NOW - timedelta(days=3) + timedelta(hours=2), text="stale",
                   author_followers=5000)
        old = _m(session, NOW - timedelta(days=9), NOW - timedelta(days=9) + timedelta(hours=2), text="old",
                 author_followers=100000)
        fresh = _m(session, NOW - timedelta(minutes=90), NOW + timedelta(minutes=30), text="fresh")
        order = [m.id for m in inbox.list_inbox(session).items]
        assert order == [fresh.id, stale.id, old.id]
        assert old.priority < 0  # past the horizon: below every fresher post, still listed when filtered
        line = priority.explain(fresh, NOW)
        assert "deadline 30 (about to breach, due in 30 min)" in line
        assert "older than 7 days" in priority.explain(old, NOW)


def test_steps_of_the_time_part() -> None:
    due = NOW + timedelta(hours=2)
    points = [priority.deadline_points(due, NOW, "new", False, at, 7)[0]
              for at in (NOW, due - timedelta(minutes=59), due + timedelta(minutes=1), due + timedelta(days=2))]
    assert points == [10.0, 30.0, 20.0, -15.0]
    assert priority.deadline_points(due, NOW, "new", True, NOW, 7) == (0.0, "")  # answered: no deadline part
    assert priority.deadline_points(due, NOW, "waiting", False, NOW, 7) == (0.0, "")


def test_refresh_rescores_only_rows_that_crossed_a_step(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        crossing = _m(session, NOW - timedelta(minutes=50), NOW + timedelta(minutes=70), text="crossing")
        steady = _m(session, NOW - timedelta(minutes=10), NOW + timedelta(hours=10), text="steady")
        before = crossing.priority
        priority.refresh_due(session, NOW)  # first run: sets the mark
        later = NOW + timedelta(minutes=15)  # crossing is now 55 min from its deadline
        assert priority.refresh_due(session, later) == 1
        session.refresh(crossing)
        session.refresh(steady)
        assert crossing.priority == before + 20  # 10 (due soon) -> 30 (about to breach)
        assert steady.priority == priority.score_mention(steady, later)
