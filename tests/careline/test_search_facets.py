"""The inbox filters the SQLite index applies (open/closed, platform, our brands) follow every write, and
narrow without changing what a search finds: the same mentions and counts on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from careline.models import Brand, Mention
from careline.services import inbox, inbox_search, search_facets, search_query, triage
from careline.services.inbox import InboxFilter, count, list_inbox
from careline.services.ingest import ingest
from tests.conftest import make_raw

TEXTS = [
    ("x", "sam_12", "lost my bag in Lisbon"),
    ("x", "maria_3", "the bag desk never answers, new bag please"),
    ("reddit", "leo_7", "bag delayed again, refund please"),
    ("bluesky", "kate_1", "bag arrived, thanks"),
]


def _load(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        s.add(Brand(name="Acme Air", keywords=["acme"]))
        s.add(Brand(name="Skyhop", keywords=["skyhop"], competitor=True))
        s.commit()
        result = ingest(s, [make_raw(platform=p, author_handle=h, text=t) for p, h, t in TEXTS], brand_id=1)
        ids = {h: mid for (_, h, _), mid in zip(TEXTS, result.new_ids)}
        s.add(Mention(platform="x", external_id="rival", author_handle="rival_1", text="Skyhop lost my bag",
                      brand_id=2))
        s.commit()
    return ids


def _open(engine, text: str, **kw) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    """The open inbox's matches (handles) and its count, which checks the page agrees with the count."""
    with Session(engine) as s:
        f = InboxFilter(text=text, **kw)
        handles = sorted(m.author_handle or "" for m in list_inbox(s, f).items)
        n = count(s, f, cap=None)
        assert n == len(handles)
        return handles, n


def test_status_platform_and_brand_changes_are_followed(any_engine, monkeypatch) -> None:
    ids = _load(any_engine)
    for few in (2_000, 0):  # the listing through a list of ids and through the planner agree
        monkeypatch.setattr(inbox, "FEW_TEXT_MATCHES", few)
        assert _open(any_engine, "bag") == (["kate_1", "leo_7", "maria_3", "sam_12"], 4)
    with Session(any_engine) as s:
        triage.set_status(s, ids["sam_12"], "resolved", "agent")  # open → closed: rewritten in the index
        triage.assign(s, ids["maria_3"], "dana", "agent")  # new → assigned: still open, nothing rewritten
    assert _open(any_engine, "bag") == (["kate_1", "leo_7", "maria_3"], 3)
    assert _open(any_engine, "bag", statuses=["resolved"]) == (["sam_12"], 1)
    assert _open(any_engine, "bag status:all") == (["kate_1", "leo_7", "maria_3", "sam_12"], 4)
    assert _open(any_engine, "bag -new", platforms=["x", "reddit"]) == (["leo_7"], 1)
    assert _open(any_engine, "bag platform:x") == (["maria_3"], 1)
    with Session(any_engine) as s:
        assert inbox_search.search(s, "bag").total == 5  # everywhere: the competitor's and the resolved
        s.exec(sa.update(Brand).where(Brand.name == "Skyhop").values(competitor=False))  # type: ignore[call-overload]
        s.commit()
    assert "rival_1" in _open(any_engine, "bag")[0]  # the flag is read when the search runs
    with any_engine.begin() as conn:  # re-attributed to the competitor by plain SQL: followed too
        conn.execute(sa.update(Brand.__table__).where(Brand.__table__.c.name == "Skyhop").values(competitor=True))
        conn.execute(sa.update(Mention.__table__).where(Mention.__table__.c.id == ids["kate_1"]).values(brand_id=2))
    assert _open(any_engine, "bag") == (["leo_7", "maria_3"], 2)
    with any_engine.begin() as conn:  # and back, and a resolved one reopened: found again (a stale index misses)
        conn.execute(sa.update(Mention.__table__).where(Mention.__table__.c.id == ids["kate_1"]).values(brand_id=1))
    with Session(any_engine) as s:
        triage.set_status(s, ids["sam_12"], "new", "agent")
    assert _open(any_engine, "bag") == (["kate_1", "leo_7", "maria_3", "sam_12"], 4)


def test_exact_facets_only_when_they_say_everything() -> None:
    def exact(text: str, **kw: object) -> bool:
        return search_facets.for_filter(InboxFilter(text=text, **kw), search_query.parse(text)).exact  # type: ignore[arg-type]

    assert exact("refund") and exact("refund -spam platform:x") and exact("refund", statuses=[])
    assert exact("refund status:open") and exact("refund", platforms=["x"], include_competitors=True)
    assert not exact("refund", statuses=["new"])  # the index knows open/closed, not which open status
    assert not exact("refund status:resolved") and not exact("refund tag:vip") and not exact("-from:sam_12")
    assert exact("from:sam_12") and exact("refund from:@Sam_12")  # the handle's own token is exact
    assert not exact("refund", sentiments=["negative"]) and not exact("-spam")
    facets = search_facets.for_filter(InboxFilter(text="refund brand:acme"), search_query.parse("refund brand:acme"))
    assert not facets.own_brands_only and facets.states == ("open",)


def test_a_negated_or_second_status_term_is_counted_in_sql(any_engine) -> None:
    """`-status:x` and two status terms are SQL conditions the index cannot apply: the count (FTS5 alone on
    SQLite when the facets said everything) is the listing's, and the same on both databases."""
    ids = _load(any_engine)
    with Session(any_engine) as s:
        triage.set_status(s, ids["sam_12"], "resolved", "agent")
        triage.assign(s, ids["maria_3"], "dana", "agent")
    for text, expected in (("bag -status:assigned", ["kate_1", "leo_7", "sam_12"]),
                           ("bag -is:open", ["sam_12"]), ("bag status:open status:resolved", []),
                           ("bag status:new -status:new", [])):
        assert _open(any_engine, text) == (expected, len(expected)), text
        with Session(any_engine) as s:
            result = inbox_search.search(s, text, everywhere=False)
            assert result.total == len(result.items) == len(expected), text
    assert not search_facets.for_filter(InboxFilter(text="bag -status:new"), search_query.parse("bag -status:new")).exact


def test_migrate_rebuilds_an_index_without_the_facets(tmp_path) -> None:
    from careline.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    _load(engine)
    with engine.begin() as conn:  # the index as migration 0004 made it before the facets
        for name in ("mention_fts_ai", "mention_fts_ad", "mention_fts_au"):
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        conn.exec_driver_sql("DROP TABLE mention_fts")
        conn.exec_driver_sql("CREATE VIRTUAL TABLE mention_fts USING fts5(text, author_handle, author_name, "
                             "content='mention', content_rowid='id', tokenize='unicode61 remove_diacritics 0')")
        conn.exec_driver_sql("INSERT INTO mention_fts(mention_fts) VALUES ('rebuild')")
    migrate(engine)
    with engine.connect() as conn:
        cols = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(mention_fts)")]
    assert cols == ["text", "author_handle", "author_name", "state", "platform", "brand_id", "handle"]
    assert _open(engine, "bag") == (["kate_1", "leo_7", "maria_3", "sam_12"], 4)


def _fts_ids(engine, expr: str) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return len(conn.exec_driver_sql("SELECT rowid FROM mention_fts WHERE mention_fts MATCH ?", (expr,)).all())


def test_migration_0020_writes_the_state_with_the_brand_and_goes_back(tmp_path) -> None:
    from careline import db
    from careline.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    _load(engine)
    assert (_fts_ids(engine, 'state : "open1"'), _fts_ids(engine, 'state : "open2"')) == (4, 1)
    db.downgrade(engine, "0019_search_facets")
    assert (_fts_ids(engine, 'state : "open"'), _fts_ids(engine, 'state : "open1"')) == (5, 0)  # 0019's form
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE mention SET status = 'resolved' WHERE author_handle = 'sam_12'")  # its triggers
    assert _fts_ids(engine, 'state : "open"') == 4
    migrate(engine)  # 0020 again: rebuilt from the rows
    assert (_fts_ids(engine, 'state : "open1"'), _fts_ids(engine, 'state : "closed1"')) == (3, 1)
    assert _open(engine, "bag") == (["kate_1", "leo_7", "maria_3"], 3)


def test_platform_names_with_quotes_are_one_facet_on_both_databases(any_engine) -> None:
    """PostgreSQL's open index holds the platform as one lexeme, quoted in the query: a name with a quote or
    a backslash still finds its own mentions and no other's."""
    with Session(any_engine) as s:
        s.add(Brand(name="Acme Air", keywords=["acme"]))
        s.commit()
        ingest(s, [make_raw(platform="o'neil\\x", author_handle="odd_1", text="bag here"),
                   make_raw(platform="x", author_handle="sam_12", text="bag there")], brand_id=1)
    assert _open(any_engine, "bag", platforms=["o'neil\\x"]) == (["odd_1"], 1)
    assert _open(any_engine, "bag", platforms=["x", "o'neil\\x"]) == (["odd_1", "sam_12"], 2)


@pytest.mark.postgres
def test_postgres_open_index_leaves_competitors_and_other_platforms_out(pg_engine) -> None:
    """The open-inbox count's bitmap holds only our brands' mentions on the platforms asked for (migration
    0023): the competitor's "bag" is not a candidate whose heap page is read to drop it."""
    from careline import search_index
    from careline.db import migrate

    migrate(pg_engine)
    _load(pg_engine)
    statements: list[tuple[str, object]] = []

    def keep(_conn, _cur, statement, params, _ctx, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, params))

    for query, expected in (("bag", 4), ("bag platform:x", 2)):
        statements.clear()
        sa.event.listen(pg_engine, "before_cursor_execute", keep)
        with Session(pg_engine) as s:
            assert inbox_search.search(s, query, everywhere=False).total == expected
        sa.event.remove(pg_engine, "before_cursor_execute", keep)
        counted = next((st, p) for st, p in statements if st.startswith("SELECT count(*)"))
        with pg_engine.connect() as conn:  # the other indexes dropped (rolled back): five rows fit any of them
            for name in conn.exec_driver_sql(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = "
                    "'mention'::regclass AND NOT i.indisunique AND c.relname <> %s",
                    (search_index.PG_OPEN_INDEX,)).scalars().all():
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("ALTER TABLE mention DROP CONSTRAINT uq_mention_platform_external_id")
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + counted[0],
                                                                counted[1]))  # type: ignore[arg-type]
            conn.rollback()
        assert f"Bitmap Index Scan on {search_index.PG_OPEN_INDEX} (actual" in plan, plan
        assert f"rows={expected} loops=1)\n" in plan.split(search_index.PG_OPEN_INDEX)[1].split("Index Cond")[0], plan


def test_a_platform_chosen_in_another_case_is_counted_as_listed(any_engine) -> None:
    """SQLite counted `bag` with the platform choice "X" from FTS5, whose platform facet folds case, so it
    counted the x posts that the exact `platform IN ('X')` of the listing leaves out."""
    with Session(any_engine) as s:
        ingest(s, [make_raw(platform="x", text="Acme Air lost bag"), make_raw(platform="reddit", text="Acme Air bag")])
        f = InboxFilter(text="bag", platforms=["X", "reddit"])
        listed = [m.id for m in list_inbox(s, f).items]
        assert len(listed) == 1 and count(s, f) == count(s, f, cap=None) == 1
        assert inbox_search.listing(s, f)[1:] == (1, False)
