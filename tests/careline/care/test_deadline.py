"""One deadline rule on every surface (services/deadline.py): overdue strictly after `respond_by`, a breach
a first response strictly after it. Mentions 1 µs before, exactly at and 1 µs after their deadline are
asked of the Overdue filter, its count and the built-in Overdue view, the Due text, the priority's time
part and its refresh, escalation and its breach count, and the care metrics, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Alert, Mention
from careline.services import care_metrics, deadline, escalation, inbox, priority, sla, views
from careline.services.inbox_filter import InboxFilter
from tests.factories import make_brand, make_mention

NOW = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)
US = timedelta(microseconds=1)
# name -> the deadline relative to NOW: NOW is 1 µs before it, exactly at it, 1 µs after it
OPEN = {"before": US, "at": timedelta(0), "after": -US}


def _seed(session: Session) -> dict[str, Mention]:
    brand = make_brand(session)
    posted = NOW - timedelta(hours=2)
    rows = {name: make_mention(brand, posted, "negative", "complaint", status="new", respond_by=NOW + offset)
            for name, offset in OPEN.items()}
    # answered: at the deadline (on time) and 1 µs after it (a breach); the clock has moved on since
    answered = NOW - timedelta(minutes=30)
    rows["answered at"] = make_mention(brand, posted, "negative", "complaint", status="replied",
                                       respond_by=answered, first_response_at=answered)
    rows["answered after"] = make_mention(brand, posted, "negative", "complaint", status="replied",
                                          respond_by=answered - US, first_response_at=answered)
    for m in rows.values():
        m.priority = priority.score_mention(m, NOW - timedelta(minutes=1))
    session.add_all(rows.values())
    session.commit()
    return rows


def test_every_surface_agrees_to_the_microsecond(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        rows = _seed(s)
        name = {m.id: n for n, m in rows.items()}
        views.ensure_builtins(s)
        builtin = views.to_filter(next(v for v in views.visible(s, "dana") if v.builtin == "overdue"), "dana")
        builtin.now = NOW
        listed = {name[m.id] for m in inbox.list_inbox(s, InboxFilter(overdue=True, now=NOW)).items}
        counted = inbox.count(s, InboxFilter(overdue=True, now=NOW), cap=None)
        in_view = {name[m.id] for m in inbox.list_inbox(s, builtin).items}
        due = {n: sla.due_text(m, NOW) for n, m in rows.items()}
        labels = {n: priority.parts_of(rows[n], NOW).deadline_label for n in OPEN}
        summary = care_metrics.summary(s, NOW - timedelta(days=1), NOW, now=NOW)
        breached = {name[b.mention_id] for b in care_metrics.breaches(s, NOW - timedelta(days=1), NOW, now=NOW)}
    assert listed == in_view == {"after"} and counted == 1
    assert {n: deadline.overdue(rows[n].respond_by, NOW) for n in OPEN} == {"before": False, "at": False, "after": True}
    assert due["after"].startswith("overdue") and due["at"] == due["before"] == "due in 0 min"
    assert due["answered at"] == due["answered after"] == ""
    assert labels == {"before": "about to breach", "at": "about to breach", "after": "overdue"}
    assert breached == {"after", "answered after"} == {
        n for n, m in rows.items() if deadline.breached(m.respond_by, m.first_response_at, NOW)}
    assert [(r.actionable, r.breached) for r in summary] == [(5, 2)]


def test_the_urgency_refresh_flips_each_row_the_microsecond_it_is_overdue(any_engine: Engine) -> None:
    """The refresh's ranges are the rule's own: a row exactly at its deadline at one run is rescored by
    the next run after it, not skipped (nor rescored early)."""
    with Session(any_engine, expire_on_commit=False) as s:
        rows = _seed(s)
        name = {m.id: n for n, m in rows.items()}
        priority.refresh_due(s, NOW - timedelta(minutes=1))  # the first run: sets the mark
        crossed = []
        for at in (NOW, NOW + US, NOW + 2 * US):
            before = {m.id: m.priority for m in rows.values()}
            priority.refresh_due(s, at)
            for m in rows.values():
                s.refresh(m)
            crossed.append({name[i] for i, p in before.items() if s.get(Mention, i).priority != p})  # type: ignore[union-attr]
            assert all(m.priority == priority.score_mention(m, at) for m in rows.values())
    assert crossed == [{"after"}, {"at"}, {"before"}]  # +20 (overdue) - 30 (about to breach) each


def test_escalation_breaches_only_after_the_deadline(any_engine: Engine) -> None:
    """The step at 0 ("breached") fires strictly after the deadline, the step at -30 for all three, and the
    notice counts as breached only the mention that is overdue."""
    with Session(any_engine, expire_on_commit=False) as s:
        rows = _seed(s)
        name = {m.id: n for n, m in rows.items()}
        first = escalation.scan(s, NOW)
        notice = s.get(Alert, first.notices[0].id)
        later = escalation.scan(s, NOW + US)
    assert sorted((name[i], step) for i, step in first.fired) == [
        ("after", 0), ("after", 1), ("at", 0), ("before", 0)]
    assert notice is not None and notice.detail["breached"] == 1 and "(1 breached)" in notice.message
    assert [(name[i], step) for i, step in later.fired] == [("at", 1)]
