"""The weekly report's top advocates and the Advocates page agree on an author's praise for our own
brands: a competitor's praise never counts, a person's correction wins, a deleted post still counts."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Brand, Mention
from careline.reports import queries
from careline.reports.periods import week_period
from careline.services import advocates, classification
from careline.services.ingest import ingest
from tests.careline.test_customers import label
from tests.factories import make_raw

WEEK = week_period("2026-W43", ZoneInfo("Europe/Berlin"))  # starts Sun 18 Oct 22:00 UTC


def _seed(session: Session) -> int:
    own = Brand(name="Acme Air", keywords=["acme"])
    rival = Brand(name="Skyhop", keywords=["skyhop"], competitor=True)
    session.add_all([own, rival])
    session.commit()
    at = WEEK.start_utc  # the first post of each author exactly at the week's start, in Berlin

    def posts(handle: str, brand: Brand, n: int, followers: int) -> list[int]:
        raws = [make_raw(platform="x", author_handle=handle, author_followers=followers, text=f"{brand.name} rocks",
                         created_at=at + timedelta(hours=i)) for i in range(n)]
        return ingest(session, raws, brand_id=brand.id).new_ids

    fan = posts("fan", own, 4, 10)
    rival_fan = posts("fan", rival, 3, 10)  # the same author praises the competitor more
    bo = posts("bo", own, 3, 10)  # ties "fan" once a correction takes one of fan's away
    label(session, fan + rival_fan + bo, "praise")
    classification.correct(session, fan[0], "kim", intent="complaint")
    gone = session.get(Mention, bo[1])
    assert gone is not None
    gone.deleted_at = at + timedelta(days=1)
    session.add(gone)
    session.commit()
    assert own.id is not None
    return own.id


def test_report_advocates_carry_the_advocates_pages_praise(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        own = _seed(session)
        report = queries.top_advocates(session, WEEK, [own])
        page = {(a.platform, a.handle): a.praise_count for a in advocates.top_advocates(session, brand_id=own)}
    assert [(r["author_handle"], r["praise"]) for r in report] == [("bo", 3), ("fan", 3)]  # tie: by handle
    # every praise was this week, so the week's praise, the lifetime praise and the page's are one figure
    assert {("x", r["author_handle"]): r["lifetime_praise"] for r in report} == page == {("x", "bo"): 3, ("x", "fan"): 3}


def test_lifetime_praise_counts_the_brands_the_week_counts(any_engine: Engine) -> None:
    # the report's own brands include "no brand" (None); its lifetime column then counts those posts too
    with Session(any_engine) as session:
        own = _seed(session)
        raw = make_raw(platform="x", author_handle="zoe", text="What a lovely flight", created_at=WEEK.start_utc)
        label(session, ingest(session, [raw]).new_ids, "praise")
        with_none = {r["author_handle"]: (r["praise"], r["lifetime_praise"])
                     for r in queries.top_advocates(session, WEEK, [own, None])}
        ours = {r["author_handle"] for r in queries.top_advocates(session, WEEK, [own])}
    assert with_none == {"bo": (3, 3), "fan": (3, 3), "zoe": (1, 1)}
    assert ours == {"bo", "fan"}
