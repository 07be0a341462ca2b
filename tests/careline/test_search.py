"""Full-text search on both databases: the index follows every write, and a query means the same on each."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from careline.models import Brand, Mention
from careline.services import inbox, inbox_search, triage
from careline.services.inbox import InboxFilter, count, list_inbox
from careline.services.ingest import ingest
from tests.conftest import make_raw

TEXTS = [
    ("x", "sam_12", "Sam Jones", "Acme Air lost my bag in Lisbon, flight AA412"),
    ("x", "maria_3", "Maria", "The lost bag desk never answers. Lost and found is a joke"),
    ("reddit", "leo_7", "Leo", "Refund please, I was refunded only half"),
    ("bluesky", "kate_1", "Kate", "Thanks Acme Air for the upgrade, great crew"),
    ("mastodon", "nina_5", "Nina", "My bag was lost. Spam spam spam"),
    ("x", "omar_9", "Omar", "Café au lait on board was cold, and my bag is lost"),
]


def _load(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        s.add(Brand(name="Acme Air", keywords=["acme air"]))
        s.add(Brand(name="Skyhop", keywords=["skyhop"], competitor=True))
        s.commit()
        raws = [make_raw(platform=p, author_handle=h, author_name=n, text=t) for p, h, n, t in TEXTS]
        result = ingest(s, raws, brand_id=1)
    return {h: mid for (_, h, _, _), mid in zip(TEXTS, result.new_ids)}


def _found(engine, text: str, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        result = inbox_search.search(s, text, **kw)
        assert result.total == len(result.items)  # all fit on one page here
        return sorted(m.author_handle or "" for m in result.items)


@pytest.mark.parametrize("few", [2_000, 0], ids=["match-ids-first", "planner-walks-the-index"])
def test_query_forms_find_the_same_mentions_on_both_databases(any_engine, few, monkeypatch) -> None:
    monkeypatch.setattr(inbox, "FEW_TEXT_MATCHES", few)  # both SQLite plans give the same answers
    _load(any_engine)
    cases = {
        '"lost bag"': ["maria_3"],
        "lost bag": ["maria_3", "nina_5", "omar_9", "sam_12"],
        "lost bag -spam": ["maria_3", "omar_9", "sam_12"],
        'bag -"lost bag"': ["nina_5", "omar_9", "sam_12"],  # an excluded phrase
        "bag -spa* -café": ["maria_3", "sam_12"],  # excluded prefix and word, in one tsquery on PostgreSQL
        "-spam": ["kate_1", "leo_7", "maria_3", "omar_9", "sam_12"],  # only an exclusion
        "refund*": ["leo_7"],
        "refund": ["leo_7"],
        "sam_12": ["sam_12"],  # a customer by handle, as a word
        "from:@SAM_12": ["sam_12"],
        "from:sam": [],  # from: is the exact handle
        "-from:sam_12 bag": ["maria_3", "nina_5", "omar_9"],
        "platform:x bag": ["maria_3", "omar_9", "sam_12"],
        "-platform:x bag": ["nina_5"],
        "aa412": ["sam_12"],
        "café": ["omar_9"],
        "cafe": [],  # no accent folding on either database
        '"bag lost"': [],
        '"lost bag': ["maria_3", "nina_5", "omar_9", "sam_12"],  # unbalanced: plain words
        "jones": ["sam_12"],  # author name
    }
    got = {q: _found(any_engine, q) for q in cases}
    assert got == cases


def test_words_inside_compounds_and_case_folded_letters_match_on_both_databases(any_engine) -> None:
    """PostgreSQL's parser kept "check-in", "example.com/x?a=1", "bob@example.com", "4.5" and "x-412" as
    lexemes of their own (as '-412'), so their words and a phrase across a hyphen found nothing there while
    FTS5 found them (search_index.PG_VECTOR); and Python's lower() made "ΟΔΟΣ" "οδος" where both indexes
    hold "οδοσ" (search_query.fold)."""
    with Session(any_engine) as s:
        s.add(Brand(name="Acme Air", keywords=["acme air"]))
        s.commit()
        texts = [("hy_1", "lost check-in desk"), ("url_2", "see https://example.com/x?a=1 now"),
                 ("mail_3", "write to bob@example.com"), ("num_4", "gate 4.5 flight x-412 v1.2.3"),
                 ("dot_5", "thanks/lisbon @ana.b"), ("greek_6", "ΟΔΟΣ κλειστός"), ("greek_7", "ο δρόμος οδος")]
        ingest(s, [make_raw(author_handle=h, text=t) for h, t in texts], brand_id=1)
    cases = {"check": ["hy_1"], '"lost check"': ["hy_1"], '"check in desk"': ["hy_1"], "example": ["mail_3", "url_2"],
             '"example com"': ["mail_3", "url_2"], "bob": ["mail_3"], "412": ["num_4"], '"4 5"': ["num_4"],
             '"v1 2 3"': ["num_4"], "lisbon": ["dot_5"], "ana": ["dot_5"], "ΟΔΟΣ": ["greek_6", "greek_7"],
             "οδος": ["greek_6", "greek_7"], "οδοσ*": ["greek_6", "greek_7"], "x-412": ["num_4"]}
    assert {q: _found(any_engine, q) for q in cases} == cases


def test_from_folds_only_a_to_z_on_both_databases(any_engine) -> None:
    """SQLite's lower() folds A-Z only and PostgreSQL's every letter: `from:` compares A-Z in any case and
    the rest exactly on both, so a handle typed as shown finds its own mentions and the same others."""
    with Session(any_engine) as s:
        s.add(Brand(name="Acme Air", keywords=["acme air"]))
        s.commit()
        ingest(s, [make_raw(author_handle=h, text="bag") for h in ("JÜRGEN_1", "jürgen_1", "Sam_12")], brand_id=1)
    cases = {"from:JÜRGEN_1": ["JÜRGEN_1"], "from:jürgen_1": ["jürgen_1"], "from:jÜrgen_1": ["JÜRGEN_1"],
             "-from:jürgen_1 bag": ["JÜRGEN_1", "Sam_12"], "from:SAM_12 bag": ["Sam_12"]}
    assert {q: _found(any_engine, q) for q in cases} == cases


def test_index_follows_ingest_correction_and_erase(any_engine) -> None:
    ids = _load(any_engine)
    assert _found(any_engine, "lisbon") == ["sam_12"]
    with Session(any_engine) as s:  # a text correction / erasure through the ORM
        m = s.get(Mention, ids["sam_12"])
        assert m is not None
        m.text, m.author_handle = "[erased at the customer's request]", None
        s.add(m)
        s.commit()
    assert _found(any_engine, "lisbon") == [] and _found(any_engine, "erased") == [""]
    assert _found(any_engine, "sam_12") == []
    with any_engine.begin() as conn:  # plain SQL from anyone (a script, another service) is followed too
        conn.execute(sa.delete(Mention.__table__).where(Mention.__table__.c.author_handle == "maria_3"))
        conn.execute(sa.update(Mention.__table__).where(Mention.__table__.c.author_handle == "leo_7")
                     .values(text="Lisbon again"))
    assert _found(any_engine, '"lost bag"') == []
    assert _found(any_engine, "lisbon") == ["leo_7"] and _found(any_engine, "refund*") == []
    with Session(any_engine) as s:  # a new mention through ingest
        ingest(s, [make_raw(author_handle="new_1", text="Lost bag again, Lisbon")])
    assert _found(any_engine, '"lost bag"') == ["new_1"]
    with Session(any_engine) as s:  # triage writes (status, tags) leave the index alone and stay correct
        triage.set_status(s, ids["nina_5"], "resolved", "agent")
    assert _found(any_engine, "spam") == ["nina_5"]


def test_inbox_search_keeps_the_inbox_filters_and_order(any_engine) -> None:
    ids = _load(any_engine)
    with Session(any_engine) as s:
        triage.set_status(s, ids["omar_9"], "resolved", "agent")
        open_only = list_inbox(s, InboxFilter(text="bag"))
        assert {m.author_handle for m in open_only.items} == {"sam_12", "maria_3", "nina_5"}
        priorities = [m.priority for m in open_only.items]
        assert priorities == sorted(priorities, reverse=True)
        assert count(s, InboxFilter(text="bag status:resolved")) == 1  # the query's status wins
        assert count(s, InboxFilter(text="bag status:all")) == 4
        assert inbox_search.search(s, "bag", base=InboxFilter(), everywhere=False).total == 3
        assert inbox_search.search(s, "bag").total == 4  # everywhere: every status and date


def test_total_is_exact_up_to_the_cap_then_says_more(any_engine, monkeypatch) -> None:
    _load(any_engine)
    monkeypatch.setattr(inbox, "COUNT_CAP", 3)  # "bag" and "lost" match 4 each, "refund" 1
    with Session(any_engine) as s:
        many = inbox_search.search(s, "bag")
        assert (many.total, many.capped, many.total_text) == (3, True, "3+")
        assert inbox_search.search(s, "bag", exact_total=True).total == 4
        few = inbox_search.search(s, "refund")
        assert (few.total, few.capped, few.total_text) == (1, False, "1")
        open_many = inbox_search.search(s, "bag -spam", base=InboxFilter(), everywhere=False)
        assert (open_many.total, open_many.capped) == (3, False)  # exactly the cap is not "more"
        assert inbox_search.capped_count(s, InboxFilter(text="lost")) == (3, True)


def test_a_common_phrase_everywhere_is_read_in_order_with_the_planner_put_back(any_engine, monkeypatch) -> None:
    _load(any_engine)
    monkeypatch.setattr(inbox, "COUNT_CAP", 1)  # '"my bag"' matches 3: "many", so PostgreSQL walks the order
    with Session(any_engine) as s:
        f = inbox_search.filter_for('"my bag"')
        page, total, capped = inbox_search.listing(s, f)
        assert (total, capped) == (1, True)
        assert [m.id for m in page.items] == [m.id for m in list_inbox(s, f).items]
        assert sorted(m.author_handle or "" for m in page.items) == ["nina_5", "omar_9", "sam_12"]
        if any_engine.dialect.name == "postgresql":  # the planner choices last for that statement only
            settings = s.execute(sa.text("SELECT current_setting('enable_seqscan'), "
                                         "current_setting('enable_bitmapscan'), current_setting('work_mem')")).one()
            server = s.execute(sa.text("SELECT reset_val FROM pg_settings WHERE name = 'work_mem'")).scalar_one()
            assert tuple(settings) == ("on", "on", f"{int(server) // 1024}MB")  # the search's 16MB put back too


def test_relevance_order_puts_the_best_match_first(any_engine) -> None:
    _load(any_engine)
    with Session(any_engine) as s:
        result = inbox_search.search(s, "spam", order="relevance")
        assert [m.author_handle for m in result.items] == ["nina_5"]
        ranked = inbox_search.search(s, "lost", order="relevance")
        assert ranked.total == 4 and ranked.items[0].author_handle == "maria_3"  # "lost" twice


def test_field_filters_for_tags_brands_status_and_assignee(any_engine) -> None:
    ids = _load(any_engine)
    with Session(any_engine) as s:
        triage.set_tags(s, ids["sam_12"], ["VIP", "lost-bag"], "agent")
        triage.set_tags(s, ids["kate_1"], ["vip"], "agent")
        triage.assign(s, ids["leo_7"], "dana", "agent")
        s.add(Mention(platform="x", external_id="c1", text="Skyhop lost my bag", brand_id=2))
        s.commit()
    assert _found(any_engine, "tag:vip") == ["kate_1", "sam_12"]
    assert _found(any_engine, "tag:vip -tag:lost-bag") == ["kate_1"]
    assert _found(any_engine, "assignee:me", me="dana") == ["leo_7"]
    assert _found(any_engine, "assignee:none refund") == []
    assert _found(any_engine, 'brand:skyhop bag') == [""]
    assert _found(any_engine, "status:assigned") == ["leo_7"]
    with Session(any_engine) as s:
        assert count(s, InboxFilter(tags=["VIP"]), cap=None) == 2
        assert count(s, InboxFilter(text="bag")) == 4  # the competitor's mention stays out of the inbox


def test_migrate_puts_back_an_index_a_table_rebuild_dropped(tmp_path) -> None:
    from careline.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with Session(engine) as s:
        ingest(s, [make_raw(author_handle="ann_1", text="lost bag in Oslo")])
    with engine.begin() as conn:  # what a batch-mode table rebuild in a later migration leaves behind
        for name in ("mention_fts_ai", "mention_fts_ad", "mention_fts_au"):
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        conn.exec_driver_sql("DROP TABLE mention_fts")
        conn.exec_driver_sql("INSERT INTO mention (platform, external_id, text, created_at, collected_at, raw, "
                             "sentiment_scores, intent_scores, needs_review, status, priority, tags, updated_at) "
                             "VALUES ('x', 'late', 'lost bag in Rome', '2026-11-01', '2026-11-01', '{}', '{}', '{}',"
                             " 0, 'new', 0, '[]', '2026-11-01')")
    migrate(engine)
    assert _found(engine, '"lost bag"') == ["", "ann_1"]
    with Session(engine) as s:
        ingest(s, [make_raw(author_handle="bo_2", text="lost bag again")])
    assert _found(engine, "again") == ["bo_2"]


@pytest.mark.postgres
def test_postgres_open_inbox_search_reads_the_open_index_which_follows_status(pg_engine) -> None:
    """The open inbox's condition is what the partial index's predicate needs (migration 0022), and a mention
    leaves it when resolved. (Six rows: the planner would read them whole, or through any index.)"""
    from careline import search_index
    from careline.db import migrate

    migrate(pg_engine)
    ids = _load(pg_engine)
    statements: list[tuple[str, object]] = []

    def keep(_conn, _cur, statement, params, _ctx, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, params))

    sa.event.listen(pg_engine, "before_cursor_execute", keep)
    with Session(pg_engine) as s:
        found = inbox_search.search(s, "bag", everywhere=False)
    sa.event.remove(pg_engine, "before_cursor_execute", keep)
    assert sorted(m.author_handle or "" for m in found.items) == ["maria_3", "nina_5", "omar_9", "sam_12"]
    counted = next((st, p) for st, p in statements if st.startswith("SELECT count(*)"))
    with pg_engine.connect() as conn:  # the other indexes dropped (rolled back): the open one or none fits
        for name in conn.exec_driver_sql("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                         "WHERE i.indrelid = 'mention'::regclass AND NOT i.indisunique "
                                         "AND c.relname <> %s", (search_index.PG_OPEN_INDEX,)).scalars().all():
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + counted[0], counted[1]))  # type: ignore[arg-type]
        conn.rollback()
    assert search_index.PG_OPEN_INDEX in plan, plan
    with Session(pg_engine) as s:
        triage.set_status(s, ids["sam_12"], "resolved", "agent")
    assert _found(pg_engine, "bag", everywhere=False) == ["maria_3", "nina_5", "omar_9"]
    assert _found(pg_engine, "bag") == ["maria_3", "nina_5", "omar_9", "sam_12"]  # every status: still found


@pytest.mark.parametrize("order", ["inbox", "newest", "oldest"])
def test_a_page_found_above_the_counts_floor_is_the_page_without_it(any_engine, monkeypatch, order) -> None:
    """PostgreSQL looks for a search's page at or above the floor the count read (inbox.count_with_floor):
    every page, in each order a floor serves, is the one the plain listing gives, ties included; SQLite
    takes no floor. A floor above every row (as after a concurrent change) falls back to the plain page."""
    from datetime import timedelta

    from careline.models import utcnow

    with Session(any_engine) as s:
        s.add(Brand(name="Acme Air", keywords=["acme"]))
        s.commit()
        ids = ingest(s, [make_raw(author_handle=f"p_{i}", text=f"bag number {i}") for i in range(14)],
                     brand_id=1).new_ids
    with any_engine.begin() as conn:  # priorities with ties, and times out of id order
        for i, mid in enumerate(ids):
            conn.execute(sa.update(Mention.__table__).where(Mention.__table__.c.id == mid).values(
                priority=float((i * 7) % 5), created_at=utcnow() - timedelta(hours=(i * 5) % 9)))
    monkeypatch.setattr(inbox, "COUNT_CAP", 8)  # the count reads 9 rows: a floor for pages 1 and 2 of 3
    f = InboxFilter(text="bag")
    with Session(any_engine) as s:
        counted = inbox.count_with_floor(s, f, inbox.COUNT_CAP + 1, order, need=4)
        assert counted.n == 9 and (counted.floor is not None) == (any_engine.dialect.name == "postgresql")
        for page in (1, 2, 3, 5):
            plain = list_inbox(s, f, page=page, page_size=3, order=order)
            found, total, capped = inbox_search.listing(s, f, page=page, page_size=3, order=order)
            assert (total, capped) == (8, True)
            assert ([m.id for m in found.items], found.has_next) == ([m.id for m in plain.items], plain.has_next)
        high = max(m.priority for m in list_inbox(s, f, page_size=20).items) + 1
        if order == "inbox":
            above_all = list_inbox(s, f, page_size=3, order=order, floor=inbox.Floor(order, high))
            assert [m.id for m in above_all.items] == [m.id for m in list_inbox(s, f, page_size=3).items]
