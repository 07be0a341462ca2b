"""Escalation fires each step once per mention, reassigns to the lead, and groups a storm into one notice."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.models import Alert, AuditEvent, Brand, Escalation, Mention
from careline.services import escalation, priority, teams, users

NOW = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)


def _setup(session: Session) -> tuple[Brand, Brand, int]:
    for name in ("ana", "ben", "lea"):
        users.create_user(session, name, "password-1", role="agent")
    team = teams.save_team(session, "admin", "Care", ["ana", "ben"], lead="lea")
    ours, rival = Brand(name="Acme Air"), Brand(name="Skyhop", competitor=True)
    session.add_all([ours, rival])
    session.commit()
    return ours, rival, team.id  # type: ignore[return-value]


def _mention(session: Session, brand: Brand, team_id: int | None, due: datetime, n: int) -> Mention:
    m = Mention(platform="x", external_id=f"e{n}-{brand.id}", text=f"lost bag {n}", brand_id=brand.id,
                intent="complaint", sentiment="negative", status="assigned", assignee="ana", team_id=team_id,
                created_at=due - timedelta(hours=2), respond_by=due)
    m.priority = priority.score_mention(m, NOW)
    session.add(m)
    session.commit()
    return m


def test_steps_fire_once_each_and_breach_goes_to_the_lead(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        ours, rival, team_id = _setup(session)
        m = _mention(session, ours, team_id, NOW + timedelta(minutes=20), 1)
        competitor = _mention(session, rival, team_id, NOW + timedelta(minutes=20), 2)
        before = m.priority
        first = escalation.scan(session, NOW)  # 20 min before: step 0 (notify, raise 10)
        assert first.fired == [(m.id, 0)]
        assert escalation.scan(session, NOW + timedelta(minutes=5)).fired == []  # once per mention and step
        session.refresh(m)
        assert m.priority == before + 10 and m.assignee == "ana"
        breach = escalation.scan(session, NOW + timedelta(minutes=21))  # past the deadline: step 1
        assert breach.fired == [(m.id, 1)]
        session.refresh(m)
        assert m.assignee == "lea"
        steps = session.exec(select(Escalation.step).where(Escalation.mention_id == m.id)).all()
        assert sorted(steps) == [0, 1]
        assert not session.exec(select(Escalation).where(Escalation.mention_id == competitor.id)).all()
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "escalate")).all()
        assert [(e.mention_id, e.detail["step"]) for e in audited] == [(m.id, 0), (m.id, 1)]
        assert audited[1].detail["reassigned"] == {"from": "ana", "to": "lea"}
        assert [a.message for a in escalation.notices_for(session, "ben", now=NOW)]  # the team hears of it too


def test_a_storm_of_breaches_is_one_notification(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        ours, _rival, team_id = _setup(session)
        for n in range(40):
            _mention(session, ours, team_id, NOW - timedelta(minutes=n + 1), n)
        sent: list[tuple[str, str, str]] = []
        from careline.settings import Settings

        settings = Settings(alert_urls=["json://localhost/hook"], _env_file=None)  # type: ignore[call-arg]
        result = escalation.run(settings, any_engine, NOW, notifier=lambda u, t, b: sent.append((u, t, b)) or True)
        assert len(result.fired) == 80  # both steps are due for each of the 40
        alerts = session.exec(select(Alert).where(Alert.kind == "escalation")).all()
        assert len(alerts) == 1 and len(sent) == 1
        assert "40 mentions" in alerts[0].message and "40 breached" in alerts[0].message
        assert escalation.run(settings, any_engine, NOW + timedelta(minutes=1)).fired == []


_KILLED_MIDWAY = """
import os, signal, sys
from datetime import datetime
import sqlalchemy as sa
from sqlmodel import Session
from careline.services import escalation

def die(*_a, **_k):  # the steps are claimed (inserted, not committed); the process dies before the rest
    os.kill(os.getpid(), signal.SIGKILL)

escalation.store_plain = die
options = sys.argv[3]
engine = sa.create_engine(sys.argv[1], connect_args={"options": options} if options else {})
with Session(engine) as session:
    escalation.scan(session, datetime.fromisoformat(sys.argv[2]))
"""


def test_a_scan_killed_midway_fires_each_step_once_on_the_rerun(any_engine: Engine) -> None:
    import subprocess
    import sys

    with Session(any_engine, expire_on_commit=False) as session:
        ours, _rival, team_id = _setup(session)
        storm = [_mention(session, ours, team_id, NOW - timedelta(minutes=n + 1), n) for n in range(40)]
    url = any_engine.url.render_as_string(hide_password=False)
    options = "" if any_engine.dialect.name == "sqlite" else f"-csearch_path={any_engine.dialect.default_schema_name}"
    child = subprocess.run([sys.executable, "-c", _KILLED_MIDWAY, url, NOW.isoformat(), options],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr  # really killed mid-scan, not finished or failed
    with Session(any_engine, expire_on_commit=False) as session:
        assert session.exec(select(Escalation)).all() == []  # nothing half-fired survives the kill
        rerun = escalation.scan(session, NOW)
        assert sorted(rerun.fired) == sorted((m.id, step) for m in storm for step in (0, 1))
        assert escalation.scan(session, NOW + timedelta(minutes=1)).fired == []
        assert len(session.exec(select(Escalation)).all()) == 80
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "escalate")).all()
        assert sorted((e.mention_id, e.detail["step"]) for e in audited) == sorted(rerun.fired)
        raised = session.exec(select(Mention.priority_boost).where(Mention.id == storm[0].id)).one()
        assert raised == 30  # both steps' points once (10 + 20), not twice


def test_a_backlog_over_the_limit_drains_most_overdue_first_into_one_notice(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        ours, _rival, team_id = _setup(session)
        storm = [_mention(session, ours, team_id, NOW - timedelta(minutes=n + 1), n) for n in range(40)]
        first = escalation.scan(session, NOW, limit=31)  # 15 mentions' two steps and the 16th's first
        assert first.more and len(first.fired) == 31 and first.mentions == 16
        most_overdue = {m.id for m in storm[24:]}  # due NOW - 25..40 min
        assert {mid for mid, _ in first.fired} == most_overdue
        assert first.through == storm[24].respond_by
        fired, after, scans = list(first.fired), first.through, 1
        while True:
            part = escalation.scan(session, NOW, limit=31, after=after)
            fired, after, scans = fired + part.fired, part.through, scans + 1
            if not part.more:
                break
        assert scans == 3 and sorted(fired) == sorted((m.id, step) for m in storm for step in (0, 1))
        assert escalation.scan(session, NOW + timedelta(minutes=1)).fired == []  # nothing left behind
        alerts = session.exec(select(Alert).where(Alert.kind == "escalation")).all()
        assert len(alerts) == 1  # the three scans of one backlog: one notice for the team
        assert sorted(alerts[0].detail["mention_ids"]) == sorted(m.id for m in storm)  # the split one once
        assert alerts[0].mention_id == storm[39].id and "40 mentions" in alerts[0].message
        assert "40 breached" in alerts[0].message
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "escalate")).all()
        assert sorted((e.mention_id, e.detail["step"]) for e in audited) == sorted(fired)


def test_run_drains_a_backlog_in_scans_and_sends_one_message(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        ours, _rival, team_id = _setup(session)
        for n in range(25):
            _mention(session, ours, team_id, NOW - timedelta(minutes=n + 1), n)
    from careline.settings import Settings

    settings = Settings(alert_urls=["json://localhost/hook"], _env_file=None)  # type: ignore[call-arg]
    sent: list[tuple[str, str, str]] = []
    result = escalation.run(settings, any_engine, NOW, notifier=lambda u, t, b: sent.append((u, t, b)) or True,
                            limit=20)
    assert len(result.fired) == 50 and result.mentions == 25 and len(result.notices) == 1
    assert len(sent) == 1 and "25 mentions" in sent[0][2]
    assert len(result.seconds) == 3  # 20 + 20 + 10 steps, each scan timed
    if any_engine.dialect.name == "sqlite":  # the run's one checkpoint left the WAL copied into the database
        with any_engine.connect() as conn:
            busy, logged, copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            assert busy == 0 and logged == copied


def test_the_due_index_holds_what_the_scans_ask_for() -> None:
    """The partial index's WHERE (models.DUE_WHERE) is due_clause() with the open statuses as literals: a
    scan whose terms do not prove it would not use the index (SQLite), so both say the same."""
    from careline.models import DUE_WHERE

    rendered = str(priority.due_clause().compile(compile_kwargs={"literal_binds": True}))
    assert rendered.replace("mention.", "") == DUE_WHERE
    assert all(f"'{s}'" in DUE_WHERE for s in priority.OPEN_STATUSES)


def test_an_escalation_reaches_the_live_desk_and_the_inbox_order(any_engine: Engine) -> None:
    from careline.services import inbox, live
    from careline.services.inbox_filter import InboxFilter

    with Session(any_engine, expire_on_commit=False) as session:
        ours, _rival, team_id = _setup(session)
        late = _mention(session, ours, team_id, NOW + timedelta(minutes=20), 1)
        twin = _mention(session, ours, team_id, NOW + timedelta(minutes=40), 2)  # same score, not due yet
        for m in (late, twin):
            m.updated_at = NOW - timedelta(hours=1)
            session.add(m)
        session.commit()
        before = live.stamp(session)
        assert escalation.scan(session, NOW).fired == [(late.id, 0)]
        session.refresh(late)
        assert late.updated_at == NOW and late.priority == priority.score_mention(late, NOW)
        assert live.stamp(session) != before  # the desk redraws
        page = [m.id for m in inbox.list_inbox(session, InboxFilter(), page=1, page_size=10).items]
        assert page.index(late.id) < page.index(twin.id)  # the raise is in the inbox order
