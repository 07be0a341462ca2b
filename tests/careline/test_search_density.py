"""Common words: the page is found by walking the listing's order (services/search_density.py), and it is
the same page, on both databases."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from careline.models import Brand, Mention
from careline.services import inbox, inbox_search, search_density, search_facets, search_query
from careline.services.inbox import InboxFilter, list_inbox
from careline.services.ingest import ingest
from tests.conftest import make_raw


def test_the_rule_walks_only_for_a_large_share_of_many_rows() -> None:
    assert search_density.common(0.6, 66_708)  # `the` in the open inbox at 1M: d² * rows ≈ 24,000
    assert not search_density.common(0.033, 66_708)  # `refund` there: ≈ 71
    assert not search_density.common(None, 1_000_000)  # no statistics: keep gathering
    assert search_density.from_span(1_001, 1, 1_635) == pytest.approx(0.612, abs=0.001)
    assert search_density.from_span(0, None, None) is None
    # SQLite, the open inbox: `the`'s 1,001 first matches among 1,650 open mentions of their span
    density, rows = search_density.within_scope(1_001, 1_650, 38_849, 1_000_000)
    assert density == pytest.approx(0.607, abs=0.001) and rows == pytest.approx(42_472, abs=1)
    bound = search_density.scope_bound(1_001, 432_353, 1_000_000)  # `refund`: counting stops there
    assert not search_density.common(*search_density.within_scope(1_001, bound, 432_353, 1_000_000))
    assert search_density.common(*search_density.within_scope(1_001, bound - 50, 432_353, 1_000_000))


def test_only_words_platforms_and_states_are_judged() -> None:
    def judged(text: str) -> bool:
        q = search_query.parse(text)
        return search_density.judged(q, search_facets.for_filter(InboxFilter(text=text), q))

    assert judged("the") and judged("the -spam platform:x")
    assert not judged("the tag:vip") and not judged("from:sam_12 the") and not judged("-spam")


def _load(engine) -> list[int]:  # type: ignore[no-untyped-def]
    """24 mentions: "the" in 20, "late" in 8 (every third), priorities with ties."""
    with Session(engine) as s:
        s.add(Brand(name="Acme Air", keywords=["acme"]))
        s.add(Brand(name="Skyhop", keywords=["skyhop"], competitor=True))
        s.commit()
        raws = [make_raw(author_handle=f"p_{i}", text=("the flight" if i % 6 else "a bag")
                         + (" late" if i % 3 == 0 else "") + f" number {i}") for i in range(24)]
        ids = ingest(s, raws, brand_id=1).new_ids
    with engine.begin() as conn:
        for i, mid in enumerate(ids):
            conn.execute(sa.update(Mention.__table__).where(Mention.__table__.c.id == mid).values(
                priority=float((i * 7) % 5)))
    return ids


@pytest.mark.parametrize("everywhere", [True, False], ids=["every-status", "open-inbox"])
def test_a_common_word_is_walked_and_gives_the_plain_page(any_engine, monkeypatch, everywhere) -> None:
    _load(any_engine)
    if any_engine.dialect.name == "postgresql":
        with any_engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE mention")  # the open index's statistics
    monkeypatch.setattr(inbox, "COUNT_CAP", 5)  # both words reach it
    monkeypatch.setattr(search_density, "COMMON", 5)  # 24 rows: "the" (d ≈ 0.8: 16) is common, "late" (3) not
    statements: list[str] = []
    sa.event.listen(any_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(any_engine) as s:
        f = inbox_search.filter_for("the", everywhere=everywhere)
        rare = inbox_search.filter_for("late -nothing", everywhere=everywhere)
        walks = any_engine.dialect.name == "sqlite" or not everywhere  # PostgreSQL: every status walks anyway
        assert inbox.count_with_floor(s, f, inbox.COUNT_CAP + 1, "inbox", 4).common == walks
        assert not inbox.count_with_floor(s, rare, inbox.COUNT_CAP + 1, "inbox", 4).common
        for page in (1, 2, 4):
            statements.clear()
            found, total, capped = inbox_search.listing(s, f, page=page, page_size=3)
            plain = list_inbox(s, f, page=page, page_size=3)
            assert (total, capped) == (5, True)
            assert ([m.id for m in found.items], found.has_next) == ([m.id for m in plain.items], plain.has_next)
            if any_engine.dialect.name == "sqlite":  # each row the order yields is probed, no id list
                assert any("EXISTS (SELECT 1 FROM mention_fts" in st for st in statements)
            elif walks:
                assert any("set_config" in st for st in statements)
        if any_engine.dialect.name == "postgresql":  # the planner choices last for the walk only
            assert s.execute(sa.text("SELECT current_setting('enable_bitmapscan'), current_setting('jit')")
                             ).one() == ("on", s.execute(sa.text("SELECT reset_val FROM pg_settings "
                                                                 "WHERE name = 'jit'")).scalar_one())


@pytest.mark.postgres
def test_postgres_density_comes_from_the_open_index_statistics(pg_engine) -> None:
    from careline.db import create_all

    create_all(pg_engine)
    _load(pg_engine)
    q = search_query.parse("the platform:x")
    facets = search_facets.for_filter(InboxFilter(text="the platform:x"), q)
    with Session(pg_engine) as s:
        assert search_density.pg_open(s, q, facets) is None  # never analysed: no statistics, no walk
        s.execute(sa.text("ANALYZE mention"))
        stats = search_density.pg_open(s, q, facets)
        assert stats is not None
        density, rows = stats
        assert density == pytest.approx(20 / 24, abs=0.05) and rows == 24  # all x, all our brand
        gone = search_density.pg_open(s, search_query.parse("zebra"), facets)
        assert gone is not None and gone[0] == 0.0  # not among the common lexemes: rare
