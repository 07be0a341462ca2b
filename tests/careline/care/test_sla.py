"""SLA deadlines: business hours and holidays in the brand's zone, across DST changes; respond_by upkeep."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from careline.errors import InvalidInput
from careline.models import AuditEvent, Brand, Mention
from careline.services import sla
from careline.services.classification import correct
from careline.services.ingest import ingest
from tests.conftest import make_raw

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = {d: (time(9), time(17)) for d in range(5)}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_around_the_clock_is_plain_minutes() -> None:
    assert sla.add_business_minutes(utc(2026, 3, 28, 23), 120, BERLIN, {}) == utc(2026, 3, 29, 1)


def test_paused_clock_carries_over_the_weekend_into_summer_time() -> None:
    # Friday 27 March 2026 16:00 CET (15:00 UTC); 2 h target, 1 h left on Friday. Monday 30 March is CEST
    # (UTC+2): the remaining hour runs 09:00-10:00 local = 07:00-08:00 UTC.
    start = datetime(2026, 3, 27, 16, tzinfo=BERLIN)
    due = sla.add_business_minutes(start, 120, BERLIN, WEEKDAYS, pause=True)
    assert due == utc(2026, 3, 30, 8)
    assert due.astimezone(BERLIN).hour == 10


def test_window_on_the_dst_day_is_as_long_as_it_really_is() -> None:
    # Sunday 29 March 2026: 00:00-24:00 local is 23 real hours. 23 h from local midnight ends at local midnight.
    every_day = {d: (time(0), None) for d in range(7)}
    start = datetime(2026, 3, 29, 0, tzinfo=BERLIN)
    due = sla.add_business_minutes(start, 23 * 60, BERLIN, every_day, pause=True)
    assert due.astimezone(BERLIN) == datetime(2026, 3, 30, 0, tzinfo=BERLIN)
    # Autumn: 25 October 2026 01:00-04:00 local spans 4 real hours (03:00 happens twice).
    night = {6: (time(1), time(4))}
    start = datetime(2026, 10, 25, 1, tzinfo=BERLIN)
    assert sla.add_business_minutes(start, 240, BERLIN, night, pause=True) == utc(2026, 10, 25, 3)
    assert sla.add_business_minutes(start, 241, BERLIN, night, pause=True) > utc(2026, 10, 31)


def test_not_paused_clock_starts_at_opening_and_runs_on() -> None:
    start = datetime(2026, 3, 27, 20, tzinfo=BERLIN)  # Friday evening, closed
    due = sla.add_business_minutes(start, 24 * 60, BERLIN, WEEKDAYS, pause=False)
    assert due == datetime(2026, 3, 31, 9, tzinfo=BERLIN).astimezone(timezone.utc)  # Mon 09:00 + 24 h


def test_holiday_is_closed() -> None:
    start = datetime(2026, 12, 24, 16, 30, tzinfo=BERLIN)  # Thursday; Friday 25th is a holiday
    due = sla.add_business_minutes(start, 60, BERLIN, WEEKDAYS, [date(2026, 12, 25)], pause=True)
    assert due.astimezone(BERLIN) == datetime(2026, 12, 28, 9, 30, tzinfo=BERLIN)


def test_strictest_target_applies() -> None:
    p = sla.Policy(minutes=120, intent_minutes={"complaint": 60}, platform_minutes={"x": 30})
    assert p.target_minutes("x", "complaint") == 30
    assert p.target_minutes("reddit", "complaint") == 60
    assert p.target_minutes("reddit", "praise") == 120


@pytest.mark.parametrize("kwargs, words", [
    ({"minutes": "soon"}, "whole number"),
    ({"minutes": 60, "timezone_name": "Mars/Olympus"}, "Unknown time zone"),
    ({"minutes": 60, "business_hours": {"mon": ["17:00", "09:00"]}}, "closes"),
    ({"minutes": 60, "business_hours": {"funday": ["09:00", "17:00"]}}, "Unknown weekday"),
    ({"minutes": 60, "intent_minutes": {"rant": 5}}, "Unknown intent"),
    ({"minutes": 60, "holidays": ["25/12/2026"]}, "not a date"),
    ({"minutes": 60, "pause_outside_hours": True}, "needs business hours"),
    ({"minutes": 60, "escalation": [{"at": 0, "reassign": "ceo"}]}, "reassign"),
])
def test_bad_policy_is_one_sentence_and_nothing_saved(session: Session, brand: Brand, kwargs, words) -> None:
    with pytest.raises(InvalidInput, match=words):
        sla.save_policy(session, "admin", brand.id, **kwargs)
    session.rollback()
    assert sla.get_policy(session, brand.id) is None


def test_respond_by_set_on_ingest_then_by_intent_then_on_policy_change(session: Session, brand: Brand) -> None:
    created = utc(2026, 11, 2, 10)
    result = ingest(session, [make_raw(created_at=created)], brand_id=brand.id)
    m = session.get(Mention, result.new_ids[0])
    assert m.respond_by == created + timedelta(minutes=120)  # CARELINE_SLA_MINUTES default
    row, changed = sla.save_policy(session, "admin", brand.id, minutes=240, intent_minutes={"complaint": 30},
                                   timezone_name="Europe/Berlin")
    assert changed == 1
    session.refresh(m)
    assert m.respond_by == created + timedelta(minutes=240)
    correct(session, m.id, "agent", intent="complaint")
    assert m.respond_by == created + timedelta(minutes=30)
    actions = [e.action for e in session.query(AuditEvent).all()]
    assert "sla_policy_save" in actions


def test_due_text(session: Session) -> None:
    now = utc(2026, 11, 2, 12)
    m = Mention(platform="x", external_id="1", text="t", status="new", respond_by=now + timedelta(minutes=25))
    assert sla.due_text(m, now) == "due in 25 min"
    m.respond_by = now - timedelta(hours=3)
    assert sla.due_text(m, now) == "overdue 3 h"
    m.first_response_at = now
    assert sla.due_text(m, now) == ""
