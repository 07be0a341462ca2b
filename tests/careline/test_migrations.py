"""Alembic upgrade from an empty database yields exactly the models' schema, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import careline.models  # noqa: F401
from careline import search_index, search_words
from careline.db import make_engine, migrate


def _diff(engine: Engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                   "include_name": search_index.include_name})
        return compare_metadata(ctx, SQLModel.metadata)


def test_upgrade_from_empty_matches_models_sqlite(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    assert _diff(engine) == []
    migrate(engine)  # idempotent: a second upgrade is a no-op


def test_upgrade_from_empty_matches_models_postgres(pg_engine: Engine) -> None:
    migrate(pg_engine)
    assert [d for d in _diff(pg_engine) if "apscheduler" not in str(d)] == []


def _case_plan(engine: Engine) -> str:
    """SQLite's plan for the lookup of a case's posts as services/cases.py issues it, after ANALYZE."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        return " | ".join(r[-1] for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM mention WHERE case_id IN (1, 2) OR id IN (1, 2)"))


def test_0021_case_lookups_search_the_partial_index_where_most_posts_have_no_case(tmp_path) -> None:
    from careline import db

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with engine.begin() as conn:  # 300 posts, 3 of them in a case: what a seeded or young inbox looks like
        for i in range(300):
            conn.exec_driver_sql(
                "INSERT INTO mention (platform, external_id, text, status, created_at, collected_at, updated_at, "
                "raw, tags, sentiment_scores, intent_scores, needs_review, priority, priority_boost, case_id) "
                "VALUES ('x', ?, 't', 'new', '2026-11-01 00:00:00.000000', '2026-11-01 00:00:00.000000', "
                "'2026-11-01 00:00:00.000000', '{}', '[]', '{}', '{}', 0, 0, 0, ?)", (str(i), 1 if i < 3 else None))
    plan = _case_plan(engine)
    assert "ix_mention_case_id" in plan and "SCAN mention" not in plan, plan
    db.downgrade(engine, "0020_search_state_brand")  # to before 0021 (0022 comes off too)
    assert "SCAN mention" in _case_plan(engine)  # the full index: its NULLs made every case look huge
    migrate(engine)
    assert "SCAN mention" not in _case_plan(engine)


def _search_indexes(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'mention' "
                                        "AND schemaname = current_schema() AND indexname LIKE 'ix_mention_search%%'")
                   .scalars())


def test_0023_open_index_gains_brand_and_platform_and_goes_back_postgres(pg_engine: Engine) -> None:
    """0023 replaces 0022's open-inbox GIN (words only) with words + brand + platform lexemes, and the
    downgrade puts 0022's back; an open-inbox search finds the same at either revision."""
    from sqlmodel import Session

    from careline import db
    from careline.models import Brand
    from careline.services import inbox_search
    from careline.services.ingest import ingest
    from tests.conftest import make_raw

    migrate(pg_engine)
    assert _search_indexes(pg_engine) == {search_index.PG_INDEX, search_index.PG_OPEN_INDEX}
    with Session(pg_engine) as s:
        s.add_all([Brand(name="Acme Air", keywords=["acme"]), Brand(name="Skyhop", keywords=["skyhop"], competitor=True)])
        s.commit()
        ingest(s, [make_raw(platform="x", author_handle="ann_1", text="lost bag"),
                   make_raw(platform="reddit", author_handle="bo_2", text="bag gone")], brand_id=1)
        ingest(s, [make_raw(platform="x", author_handle="rival_1", text="Skyhop bag")], brand_id=2)

    def found(query: str) -> list[str]:
        with Session(pg_engine) as s:
            return sorted(m.author_handle or "" for m in inbox_search.search(s, query, everywhere=False).items)

    assert (found("bag"), found("bag platform:x")) == (["ann_1", "bo_2"], ["ann_1"])
    db.downgrade(pg_engine, "0022_search_open_index")
    assert _search_indexes(pg_engine) == {search_index.PG_INDEX, search_index.PG_OPEN_INDEX_0022}
    assert (found("bag"), found("bag platform:x")) == (["ann_1", "bo_2"], ["ann_1"])
    db.downgrade(pg_engine, "0021_mention_case_partial_index")
    assert _search_indexes(pg_engine) == {search_index.PG_INDEX}
    migrate(pg_engine)
    assert _search_indexes(pg_engine) == {search_index.PG_INDEX, search_index.PG_OPEN_INDEX}
    assert (found("bag"), found("bag platform:x")) == (["ann_1", "bo_2"], ["ann_1"])


def test_0023_changes_nothing_on_sqlite(tmp_path) -> None:
    from careline import db

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    db.downgrade(engine, "0022_search_open_index")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0022_search_open_index"
    migrate(engine)
    assert _diff(engine) == []


def test_0025_builds_the_postgres_vector_from_words_and_goes_back(pg_engine: Engine) -> None:
    """0025 recomputes every row's vector from letters and digits only (search_index.PG_VECTOR), so a word
    inside "check-in" or "example.com" is found; the downgrade puts 0004's expression back."""
    from sqlmodel import Session

    from careline import db
    from careline.services import inbox_search
    from careline.services.ingest import ingest
    from tests.conftest import make_raw

    db.migrate(pg_engine, "0024_mention_due_index")
    with pg_engine.begin() as conn:  # the vector as a database made before 0025 has it (0004 installs today's)
        search_index.pg_rebuild_vector(conn, search_index.PG_VECTOR_0004)
    with Session(pg_engine) as s:
        ingest(s, [make_raw(author_handle="ann_1", text="lost check-in at example.com")])

    def found(query: str) -> list[str]:
        with Session(pg_engine) as s:
            return sorted(m.author_handle or "" for m in inbox_search.search(s, query).items)

    assert (found("example"), found('"lost check"')) == ([], [])  # 0024: the parser's compounds
    migrate(pg_engine)
    assert _search_indexes(pg_engine) == {search_index.PG_INDEX, search_index.PG_OPEN_INDEX}
    assert (found("example"), found('"lost check"'), found("check-in")) == (["ann_1"], ["ann_1"], ["ann_1"])
    db.downgrade(pg_engine, "0024_mention_due_index")
    assert _search_indexes(pg_engine) == {search_index.PG_INDEX, search_index.PG_OPEN_INDEX}
    assert found("example") == []


def _found_by(engine: Engine, query: str) -> list[str]:
    from sqlmodel import Session

    from careline.services import inbox_search

    with Session(engine) as s:
        return sorted(m.author_handle or "" for m in inbox_search.search(s, query).items)


def _ingest(engine: Engine, *mentions: tuple[str, str, str]) -> None:
    from sqlmodel import Session

    from careline.services.ingest import ingest
    from tests.factories import make_raw

    with Session(engine) as s:
        ingest(s, [make_raw(author_handle=h, author_name=n, text=t) for h, n, t in mentions])


def test_0026_rebuilds_the_sqlite_index_with_the_word_rule_and_goes_back(tmp_path) -> None:
    """0026 makes the FTS5 table again with the separators and token characters spelled out (an emoji
    written against a word joined it before) and reads every stored mention into it; the downgrade puts
    the plain unicode61 table back."""
    from careline import db

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.migrate(engine, "0025_search_vector_words")
    with engine.begin() as conn:  # the table as a database made before 0026 has it (0020 installs today's)
        search_index.drop(conn)
        search_index.install(conn, rebuild=True, tokenize=search_words.SQLITE_TOKENIZE_0004)
    _ingest(engine, ("ann_1", "Ann", "🧳bag lost"))
    assert _found_by(engine, "bag") == []  # 0025: one token "🧳bag"
    migrate(engine)
    assert _found_by(engine, "bag") == ["ann_1"] and _diff(engine) == []
    db.downgrade(engine, "0025_search_vector_words")
    assert _found_by(engine, "bag") == []
    with engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'mention_fts'").scalar()
    assert str(sql).endswith("tokenize='unicode61 remove_diacritics 0')")


def test_0026_builds_the_postgres_vector_with_the_word_rule_and_goes_back(pg_engine: Engine) -> None:
    """0026 computes the vector with careline_search_vector(): a Hindi word is whole (the parser split it at
    the virama) and no phrase runs from the text into the name; the downgrade puts 0025's parser back."""
    from careline import db

    db.migrate(pg_engine, "0025_search_vector_words")
    _ingest(pg_engine, ("ann_1", "Cross Name", "नमस्ते my bag"))
    assert (_found_by(pg_engine, "नमस्ते"), _found_by(pg_engine, '"bag ann"')) == ([], ["ann_1"])
    migrate(pg_engine)
    assert _search_indexes(pg_engine) == {search_index.PG_INDEX, search_index.PG_OPEN_INDEX}
    assert (_found_by(pg_engine, "नमस्ते"), _found_by(pg_engine, '"bag ann"')) == (["ann_1"], [])
    assert _diff(pg_engine) == []
    db.downgrade(pg_engine, "0025_search_vector_words")
    assert _search_indexes(pg_engine) == {search_index.PG_INDEX, search_index.PG_OPEN_INDEX}
    assert _found_by(pg_engine, "नमस्ते") == []
    with pg_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM pg_proc WHERE proname = 'careline_search_vector' "
                                    "AND pronamespace = current_schema()::regnamespace").scalar() == 0


def _open_counts_after_0027(engine: Engine) -> list[int]:
    """A customer with two open cases, one post of which was marked deleted as 0026 marked it (no recount):
    their open count at 0026, after 0027, and after the downgrade."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from careline import db
    from careline.models import Customer, Mention
    from careline.services.ingest import ingest
    from tests.factories import make_raw, utc

    db.migrate(engine, "0026_search_word_rule")
    with Session(engine) as s:  # four days apart: two cases
        ids = ingest(s, [make_raw(author_handle="sam", created_at=utc(2026, 11, d)) for d in (1, 5)]).new_ids
        s.execute(sa.update(Mention).where(Mention.id == ids[1]).values(deleted_at=utc(2026, 11, 6)))
        s.commit()

    def count() -> int:
        with Session(engine) as s:
            return int(s.execute(sa.select(Customer.open_count)).scalar_one())
    counts = [count()]
    migrate(engine)
    counts.append(count())
    db.downgrade(engine, "0026_search_word_rule")
    return [*counts, count()]


def test_0027_recounts_customers_with_deleted_open_posts_and_goes_back_sqlite(tmp_path) -> None:
    assert _open_counts_after_0027(make_engine(f"sqlite:///{tmp_path / 'm.db'}")) == [2, 1, 2]


def test_0027_recounts_customers_with_deleted_open_posts_and_goes_back_postgres(pg_engine: Engine) -> None:
    assert _open_counts_after_0027(pg_engine) == [2, 1, 2]
