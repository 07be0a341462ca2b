"""Care metrics: first response, resolution, breaches per brand/team/agent; competitors never count; an
outside reply counts as a response and a dry run does not."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Brand, Mention, Team
from careline.services import care_metrics, replies
from tests.factories import make_brand

T0 = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=3)


def _m(session: Session, brand: Brand, n: int, *, answered_after: float | None, team: Team | None = None,
       assignee: str | None = None, intent: str = "complaint", resolved_after: float | None = None) -> Mention:
    created = T0 + timedelta(hours=n)
    m = Mention(platform="x", external_id=f"m{n}-{brand.id}", text=f"post {n}", brand_id=brand.id, intent=intent,
                status="resolved" if resolved_after else "new", created_at=created, respond_by=created + timedelta(hours=1),
                first_response_at=created + timedelta(minutes=answered_after) if answered_after is not None else None,
                resolved_at=created + timedelta(minutes=resolved_after) if resolved_after else None,
                team_id=team.id if team else None, assignee=assignee)
    session.add(m)
    session.commit()
    return m


def test_summary_by_brand_team_agent_and_the_breach_list(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        ours, rival = Brand(name="Acme Air"), Brand(name="Skyhop", competitor=True)
        team = Team(name="Care")
        session.add_all([ours, rival, team])
        session.commit()
        _m(session, ours, 1, answered_after=30, team=team, assignee="ana", resolved_after=120)
        late = _m(session, ours, 2, answered_after=90, team=team, assignee="ana", resolved_after=240)
        silent = _m(session, ours, 3, answered_after=None, assignee="ben")
        _m(session, ours, 4, answered_after=None, intent="praise")  # not actionable
        _m(session, rival, 5, answered_after=None)  # competitors never count
        since, until = T0, T0 + timedelta(days=1)
        by_brand = care_metrics.summary(session, since, until, "brand", now=NOW)
        assert [(r.group, r.actionable, r.answered, r.breached, r.resolved) for r in by_brand] == [
            ("Acme Air", 3, 2, 2, 2)]
        assert by_brand[0].median_first_response_s == 30 * 60 and by_brand[0].median_resolution_s == 120 * 60
        by_team = {r.group: r.actionable for r in care_metrics.summary(session, since, until, "team", now=NOW)}
        assert by_team == {"Care": 2, "(no team)": 1}
        by_agent = {r.group: r.breached for r in care_metrics.summary(session, since, until, "agent", now=NOW)}
        assert by_agent == {"ana": 1, "ben": 1}
        listed = care_metrics.breaches(session, since, until, now=NOW)
        assert [b.mention_id for b in listed] == [silent.id, late.id]
        assert listed[1].late_minutes == 30


def test_outside_reply_counts_and_dry_run_does_not(session: Session, brand: Brand) -> None:
    created = datetime.now(timezone.utc) - timedelta(hours=3)
    a = Mention(platform="hackernews", external_id="hn1", text="acme air broke my app", brand_id=brand.id,
                intent="complaint", status="new", created_at=created, respond_by=created + timedelta(hours=2))
    b = Mention(platform="x", external_id="x1", text="acme air lost it", brand_id=brand.id, intent="complaint",
                status="new", created_at=created, respond_by=created + timedelta(hours=2))
    session.add_all([a, b])
    session.commit()
    replies.record_external(session, a.id, "ana", created + timedelta(minutes=45), "Answered in the HN thread")
    replies.queue_reply(session, b.id, "We're on it", "ana", dry_run=True)
    rows = care_metrics.summary(session, created - timedelta(hours=1), created + timedelta(hours=1))
    assert rows[0].answered == 1 and rows[0].median_first_response_s == 45 * 60
    assert [x.mention_id for x in care_metrics.breaches(session, created - timedelta(hours=1),
                                                        created + timedelta(hours=1))] == [b.id]


def test_times_are_exact_to_the_microsecond_at_the_sla_and_at_minute_edges(any_engine: Engine) -> None:
    # SQLite's julianday() is a float and rounds fractions to the millisecond: a reply exactly at the SLA
    # read as just over it, and 59 min 59.9996 s as a whole 60 minutes; PostgreSQL was exact
    from careline.services import trends

    with Session(any_engine, expire_on_commit=False) as session:
        ours = make_brand(session)
        created = T0 + timedelta(microseconds=999_600)
        session.add(Mention(platform="x", external_id="edge", text="late bag", brand_id=ours.id, intent="complaint",
                            status="resolved", created_at=created, first_response_at=created + timedelta(minutes=120),
                            resolved_at=created + timedelta(minutes=60) - timedelta(microseconds=400)))
        session.commit()
        since, until = T0, T0 + timedelta(days=1)
        stats = trends.response_times(session, since, until, sla_minutes=120)
        assert (stats.answered, stats.within_sla, stats.median_s) == (1, 1, 120 * 60)
        assert trends.response_times(session, since, until, sla_minutes=119).within_sla == 0
        [row] = care_metrics.summary(session, since, until, "brand", now=NOW)
        # whole seconds, truncated: 59 min 59.9996 s is 3599 s (not 3600), shown as 60.0 min
        assert (row.median_first_response_s, row.median_resolution_s) == (7200, 3599)


def test_breaches_with_the_same_deadline_list_newest_mention_first(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        ours = make_brand(session)
        due = T0 + timedelta(hours=2)
        tied = [Mention(platform="x", external_id=f"tie{i}", text="no reply", brand_id=ours.id, intent="complaint",
                        status="new", created_at=T0 + timedelta(minutes=i), respond_by=due) for i in range(4)]
        session.add_all(tied)
        session.commit()
        listed = care_metrics.breaches(session, T0, T0 + timedelta(days=1), now=NOW)
        assert [b.mention_id for b in listed] == sorted((m.id for m in tied), reverse=True)
        assert [b.mention_id for b in care_metrics.breaches(session, T0, T0 + timedelta(days=1), now=NOW, limit=2)] \
            == [b.mention_id for b in listed[:2]]
