"""trends.py and advocates.py on SQLite and PostgreSQL: exact counts, zones, response times (themes:
tests/careline/test_themes.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from careline.errors import NotFound, PermissionDenied
from careline.models import Author, Brand, Mention
from careline.services import advocates, localdays, stats, trends
from careline.services.classification import apply_labels, correct
from careline.services.ingest import ingest
from classify.base import Labels
from tests.conftest import make_raw

T0 = datetime(2026, 3, 28, 23, 30, tzinfo=timezone.utc)  # 00:30 on the 29th in Berlin (CET, +1)


def _seed(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with Session(engine, expire_on_commit=False) as s:
        acme, sky = Brand(name="Acme Air", keywords=["acme air"]), Brand(name="Skyhop", competitor=True)
        s.add(acme)
        s.add(sky)
        s.commit()
        spec = [  # (brand, platform, hours after T0, sentiment, intent, text, handle, minutes to respond)
            (acme, "x", 0, "negative", "complaint", "Acme Air lost luggage in Denver", "a", 30),
            (acme, "x", 1, "negative", "complaint", "Acme Air lost luggage again", "b", 300),
            (acme, "reddit", 2, "negative", "complaint", "acme air lost luggage, refund please", "c", None),
            (acme, "x", 3, "neutral", "question", "Acme Air pets allowed?", "d", 60),
            (acme, "x", 4, "positive", "praise", "Acme Air thank you crew", "fan", None),
            (acme, "x", 50, "positive", "praise", "Acme Air great again", "fan", None),
            (sky, "x", 5, "negative", "complaint", "Skyhop lost luggage", "e", None),
        ]
        ids = {}
        for i, (brand, platform, hours, sent, intent, text, handle, reply_after) in enumerate(spec):
            res = ingest(s, [make_raw(platform=platform, external_id=f"t{i}", text=text, author_handle=handle,
                                      author_followers=1000 if handle == "fan" else 10,
                                      created_at=T0 + timedelta(hours=hours))], brand_id=brand.id)
            m = s.get(Mention, res.new_ids[0])
            apply_labels(s, [m], [Labels(sent, intent, {sent: 0.9}, {intent: 0.9})], "test-1", 0.5)
            if reply_after is not None:
                m.first_response_at = m.created_at + timedelta(minutes=reply_after)
            s.add(m)
            s.commit()
            ids[text] = m.id
        return ids


def test_volume_per_day_in_zone_and_per_week(any_engine):
    _seed(any_engine)
    since, until = T0 - timedelta(days=2), T0 + timedelta(days=5)
    with Session(any_engine) as s:
        utc = trends.volume(s, since, until, by="sentiment")
        berlin = trends.volume(s, since, until, by="sentiment", zone="Europe/Berlin")
        weekly = trends.volume(s, since, until, by="intent", granularity="week", platforms=["x"])
    assert {(r.period, r.brand, r.platform, r.label): r.count for r in utc if r.label == "negative"} == {
        (date(2026, 3, 28), "Acme Air", "x", "negative"): 1,
        (date(2026, 3, 29), "Acme Air", "x", "negative"): 1,
        (date(2026, 3, 29), "Acme Air", "reddit", "negative"): 1,
        (date(2026, 3, 29), "Skyhop", "x", "negative"): 1,
    }
    # In Berlin every one of these falls on the 29th or later (the first is 00:30 local).
    assert min(r.period for r in berlin) == date(2026, 3, 29)
    assert sum(r.count for r in berlin) == sum(r.count for r in utc) == 7
    # 28 March 2026 is a Saturday and the 29th a Sunday (week of Monday the 23rd); T0 + 50 h is Monday the 30th.
    weeks = {(r.period, r.label): r.count for r in weekly if r.brand == "Acme Air"}
    assert weeks[(date(2026, 3, 23), "complaint")] == 2 and weeks[(date(2026, 3, 30), "praise")] == 1


def test_corrections_win_in_volume(any_engine):
    ids = _seed(any_engine)
    with Session(any_engine) as s:
        correct(s, ids["Acme Air pets allowed?"], "agent", intent="complaint")
        rows = trends.volume(s, T0 - timedelta(days=1), T0 + timedelta(days=1), by="intent", brand_ids=[1])
    assert sum(r.count for r in rows if r.label == "complaint") == 4
    assert not [r for r in rows if r.label == "question"]


def test_share_of_voice(any_engine):
    _seed(any_engine)
    with Session(any_engine) as s:
        share = trends.share_of_voice(s, T0 - timedelta(days=1), T0 + timedelta(days=5))
    assert [(r.brand, r.mentions, r.competitor) for r in share] == [("Acme Air", 6, False), ("Skyhop", 1, True)]
    assert share[0].share == pytest.approx(6 / 7) and share[0].positive == 2 and share[0].negative == 3


def test_response_times(any_engine):
    _seed(any_engine)
    with Session(any_engine) as s:
        r = trends.response_times(s, T0 - timedelta(days=1), T0 + timedelta(days=5), sla_minutes=120)
    # the competitor's complaint is not ours to answer: it never counts as a missed SLA
    assert (r.actionable, r.answered, r.within_sla) == (4, 3, 2)
    assert r.median_s == 3600 and r.p90_s == 18000 and r.within_sla_share == pytest.approx(0.5)
    with Session(any_engine) as s:
        empty = trends.response_times(s, T0 + timedelta(days=30), T0 + timedelta(days=31), sla_minutes=120)
    assert empty.actionable == 0 and empty.median_s is None and empty.within_sla_share == 0


def test_day_range_covers_whole_local_days():
    since, until = localdays.day_range(7, "Europe/Berlin", today=date(2026, 11, 22))
    assert since == datetime(2026, 11, 15, 23, tzinfo=timezone.utc)
    assert until == datetime(2026, 11, 22, 23, tzinfo=timezone.utc)


def test_advocates_ranked_thanked_and_exported(any_engine):
    _seed(any_engine)
    with Session(any_engine, expire_on_commit=False) as s:
        ranked = advocates.top_advocates(s, now=T0 + timedelta(days=3))
        assert ranked[0].handle == "fan" and ranked[0].praise_count == 2
        with pytest.raises(PermissionDenied):
            advocates.thank(s, "x", "fan", "Thanks!", "v", "viewer")
        with pytest.raises(NotFound):
            advocates.thank(s, "x", "nobody", "Thanks!", "agent", "agent")
        reply = advocates.thank(s, "x", "fan", "Thanks @fan!", "agent", "agent", dry_run=True)
        assert reply.kind == "thanks" and reply.dry_run
        assert s.get(Mention, reply.mention_id).text == "Acme Air great again"  # the latest praise
        assert s.exec(select(Author).where(Author.handle == "fan")).one().last_thanked_at is not None
        csv = advocates.to_csv(advocates.top_advocates(s)).decode()
    assert csv.splitlines()[0].startswith("platform,handle") and "fan" in csv


def test_advocate_csv_neutralises_formulas():
    a = advocates.Advocate("x", "=HYPERLINK(\"http://e\")", "@cmd", 1, 1, 0, 1, None, None, 1.0)
    line = advocates.to_csv([a]).decode().splitlines()[1]
    assert line.startswith("x,\"'=HYPERLINK") and ",'@cmd," in line


def test_score_prefers_recent_and_reach():
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert advocates.score(3, 100, now, now) > advocates.score(3, 100, now - timedelta(days=90), now)
    assert advocates.score(3, 10_000, now, now) > advocates.score(3, 10, now, now)


def test_offset_segments_split_at_dst():
    from zoneinfo import ZoneInfo

    since, until = datetime(2026, 3, 28, tzinfo=timezone.utc), datetime(2026, 3, 31, tzinfo=timezone.utc)
    segs = localdays.offset_segments(since, until, ZoneInfo("Europe/Berlin"))
    assert segs == [(since, datetime(2026, 3, 29, 1, tzinfo=timezone.utc), 60),
                    (datetime(2026, 3, 29, 1, tzinfo=timezone.utc), until, 120)]
    assert localdays.offset_segments(since, until, ZoneInfo("UTC")) == [(since, until, 0)]


def test_volume_days_across_dst(any_engine):
    with Session(any_engine) as s:
        s.add(Brand(name="Acme Air"))
        s.commit()
        # 00:30 local on both sides of the spring change: CET (+1) on the 29th, CEST (+2) on the 30th
        for i, at in enumerate([datetime(2026, 3, 28, 23, 30, tzinfo=timezone.utc),
                                datetime(2026, 3, 29, 22, 30, tzinfo=timezone.utc),
                                datetime(2026, 3, 29, 21, 59, tzinfo=timezone.utc)]):
            ingest(s, [make_raw(external_id=f"dst{i}", created_at=at)], brand_id=1)
        rows = trends.volume(s, datetime(2026, 3, 27, tzinfo=timezone.utc), datetime(2026, 4, 1, tzinfo=timezone.utc),
                             zone="Europe/Berlin")
    assert {r.period: r.count for r in rows} == {date(2026, 3, 29): 2, date(2026, 3, 30): 1}
    assert {r.label for r in rows} == {"unclassified"}


def test_workload_and_recent_languages(any_engine):
    _seed(any_engine)
    with Session(any_engine) as s:
        s.add(Mention(platform="x", external_id="es1", text="hola", language="es"))
        s.commit()
        counts = stats.workload(s)
        langs = trends.recent_languages(s)
    assert counts == {"open": 7, "mentions": 8, "unclassified": 1, "queued": 0}  # open: not the competitor's
    assert "es" in langs
