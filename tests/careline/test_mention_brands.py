"""A mention belongs to every brand it names; own brands win the inbox; competitors never count as our work."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from careline.models import Brand, Mention, MentionBrand
from careline.services import classification, inbox, mention_brands, stats, trends
from careline.services.classification import apply_labels
from careline.services.ingest import ingest
from classify.base import Labels
from tests.conftest import make_raw

T0 = datetime(2026, 11, 10, 12, tzinfo=UTC)


def _brands(s: Session) -> tuple[int, int]:
    acme = Brand(name="Acme Air", keywords=["acme air"], handles=["AcmeAir"])
    sky = Brand(name="Skyhop", keywords=["skyhop"], competitor=True)
    s.add(acme)
    s.add(sky)
    s.commit()
    return acme.id, sky.id  # type: ignore[return-value]


def test_a_post_naming_us_and_a_competitor_reaches_our_inbox(any_engine) -> None:  # type: ignore[no-untyped-def]
    with Session(any_engine, expire_on_commit=False) as s:
        acme, sky = _brands(s)
        both = make_raw(external_id="both", text="Skyhop was fine, Acme Air lost my bag", created_at=T0)
        only_sky = make_raw(external_id="sky", text="Skyhop lost my bag", created_at=T0)
        ingest(s, [both, only_sky], brand_id=sky)  # the competitor's query caught both first
        m = s.exec(select(Mention).where(Mention.external_id == "both")).one()
        assert m.brand_id == acme and mention_brands.brands_of(s, m) == [acme, sky]
        # our inbox shows it; the competitor-only post stays out of the inbox and its "Open" count
        listed = [x.external_id for x in inbox.list_inbox(s, inbox.InboxFilter()).items]
        assert listed == ["both"]
        assert stats.workload(s)["open"] == 1
        # ...and it counts for both brands, so the competitor's filter and share of voice still see it
        assert {x.external_id for x in inbox.list_inbox(s, inbox.InboxFilter(brand_ids=[sky])).items} == {"both", "sky"}
        volume = trends.volume(s, T0 - timedelta(days=1), T0 + timedelta(days=1))
        per_brand: dict[str, int] = {}
        for r in volume:
            per_brand[r.brand] = per_brand.get(r.brand, 0) + r.count
        assert per_brand == {"Acme Air": 1, "Skyhop": 2}


def test_a_second_query_catching_a_stored_post_adds_its_brand(any_engine) -> None:  # type: ignore[no-untyped-def]
    with Session(any_engine, expire_on_commit=False) as s:
        acme, sky = _brands(s)
        # the text names neither brand's keywords (the platform matched a hashtag form): only queries tell
        raw = dict(external_id="tagged", text="#skyhopair vs #acmeairlines: lost bag", created_at=T0)
        ingest(s, [make_raw(**raw)], brand_id=sky)
        assert s.exec(select(Mention.brand_id).where(Mention.external_id == "tagged")).one() == sky
        ingest(s, [make_raw(**raw)], brand_id=acme)  # our query catches the same post later
        s.commit()
        m = s.exec(select(Mention).where(Mention.external_id == "tagged")).one()
        assert m.brand_id == acme  # own brand first: it is ours to answer now
        assert set(s.exec(select(MentionBrand.brand_id).where(MentionBrand.mention_id == m.id))) == {sky}
        ingest(s, [make_raw(**raw)], brand_id=sky)  # re-reading changes nothing
        s.commit()
        assert len(list(s.exec(select(MentionBrand)))) == 1 and s.get(Mention, m.id).brand_id == acme  # type: ignore[union-attr]


def test_trends_sla_excludes_competitors(any_engine) -> None:  # type: ignore[no-untyped-def]
    with Session(any_engine, expire_on_commit=False) as s:
        acme, sky = _brands(s)
        ours = make_raw(external_id="o", text="Acme Air lost my bag", created_at=T0)
        theirs = make_raw(external_id="t", text="Skyhop lost my bag", created_at=T0)
        ingest(s, [ours], brand_id=acme)
        ingest(s, [theirs], brand_id=sky)
        rows = list(s.exec(select(Mention).order_by(Mention.id)))
        apply_labels(s, rows, [Labels("negative", "complaint", {}, {})] * 2, "t-1", 0.5)
        rows[0].first_response_at = T0 + timedelta(minutes=5)
        s.add(rows[0])
        s.commit()
        r = trends.response_times(s, T0 - timedelta(hours=1), T0 + timedelta(hours=1), sla_minutes=60)
        assert (r.actionable, r.within_sla) == (1, 1)  # the competitor's unanswered complaint is not a miss
        chosen = trends.response_times(s, T0 - timedelta(hours=1), T0 + timedelta(hours=1), 60, brand_ids=[sky])
        assert chosen.actionable == 0 and chosen.not_applicable  # #14: a competitor's mentions never count


def test_intent_only_correction_records_no_sentiment(session, brand) -> None:  # type: ignore[no-untyped-def]
    ingest(session, [make_raw(text="Acme Air lost my bag")], brand_id=brand.id)
    m = session.exec(select(Mention)).one()
    apply_labels(session, [m], [Labels("negative", "complaint", {}, {})], "t-1", 0.5)
    session.commit()
    # the form sends both boxes: sentiment unchanged, intent changed
    classification.correct(session, m.id, "alice", sentiment="negative", intent="question")
    m = session.get(Mention, m.id)
    assert (m.corrected_sentiment, m.corrected_intent, m.corrected_by) == (None, "question", "alice")
    assert classification.corrections(session) == [(m.text, None, "question")]
    # unchanged both ways: nothing recorded as a person's label
    ingest(session, [make_raw(external_id="n2", text="Acme Air is fine")], brand_id=brand.id)
    n = session.exec(select(Mention).where(Mention.external_id == "n2")).one()
    apply_labels(session, [n], [Labels("neutral", "other", {}, {})], "t-1", 0.5)
    session.commit()
    classification.correct(session, n.id, "alice", sentiment="neutral", intent="other")
    n = session.get(Mention, n.id)
    assert (n.corrected_sentiment, n.corrected_intent, n.corrected_at) == (None, None, None)
    # a later real change of sentiment is recorded; the earlier intent correction stays
    classification.correct(session, m.id, "bob", sentiment="neutral", intent="question")
    m = session.get(Mention, m.id)
    assert (m.corrected_sentiment, m.corrected_intent) == ("neutral", "question")


def test_brands_for_puts_the_catching_brand_first_and_competitors_last() -> None:  # type: ignore[no-untyped-def]
    """Attribution.brands_for: the brand whose query caught the post first, own brands before competitors
    (stable within each), a post naming nothing keeps its catching brand, no competitors leaves the order."""
    from careline.services.mention_brands import Attribution
    from collectors.matcher import Matcher, Rule

    rules = [Rule("Rival", ("rival",)), Rule("Acme", ("acme",)), Rule("Other", ("other",)), Rule("Zed", ("zed",))]
    ids = {"Rival": 1, "Acme": 2, "Other": 3, "Zed": 4}
    attr = Attribution(ids=ids, competitors=frozenset({1, 4}), matcher=Matcher(rules))
    text = "zed rival acme other"
    assert attr.brands_for(text, None, None) == [2, 3, 1, 4]
    assert attr.brands_for(text, None, 4) == [2, 3, 4, 1]
    assert attr.brands_for(text, None, 3) == [3, 2, 1, 4]
    assert attr.brands_for("nothing here", None, 4) == [4] and attr.brands_for(None, None, None) == []
    plain = Attribution(ids=ids, competitors=frozenset(), matcher=Matcher(rules))
    assert plain.brands_for(text, None, 3) == [3, 1, 2, 4]


def test_per_brand_rows_count_every_brand_named_and_the_primary_rows_each_post_once(any_engine) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    with Session(any_engine, expire_on_commit=False) as s:
        acme, sky = _brands(s)
        ingest(s, [make_raw(external_id="both", text="Skyhop was fine, Acme Air lost my bag", created_at=T0),
                   make_raw(external_id="sky", text="Skyhop lost my bag", created_at=T0)], brand_id=sky)
        s.commit()

        def build(day, brand):  # type: ignore[no-untyped-def]
            return sa.select(day, brand.label("brand_id"), sa.func.count().label("n")).group_by(day, brand)

        def counted(brand_ids=None):  # type: ignore[no-untyped-def]
            rows = mention_brands.per_brand_days(s, T0 - timedelta(days=1), T0 + timedelta(days=1), "Europe/Berlin",
                                                 build, brand_ids)
            return sorted((r.brand_id, r.n, also) for _day, r, also in rows)

        assert counted() == [(acme, 1, False), (sky, 1, False), (sky, 1, True)]
        assert counted([sky]) == [(sky, 1, False), (sky, 1, True)]  # the filter keeps the post that names it
        assert sum(n for _b, n, also in counted() if not also) == 2  # a total: each post once
