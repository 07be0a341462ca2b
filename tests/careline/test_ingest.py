from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from sqlmodel import Session, func, select

from careline.db import create_all
from careline.models import Author, Mention, SourceState
from careline.services.ingest import MAX_TEXT_CHARS, ingest
from careline.services.source_state import get_source_state
from tests.conftest import make_raw
from tests.factories import make_brand


def _count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Mention)).one()


def test_ingest_twice_keeps_one_row(any_engine) -> None:
    raws = [make_raw() for _ in range(5)]
    with Session(any_engine) as s:
        first = ingest(s, raws)
        again = ingest(s, raws + [make_raw(external_id=raws[0].external_id)])
        assert (first.new, again.new) == (5, 0)
        assert _count(s) == 5
        authors = s.exec(select(Author)).all()
        assert sum(a.mention_count for a in authors) == 5


@pytest.mark.parametrize(
    "text",
    ["", "😡😡😡", "مرحبا Acme שלום привет 你好", "ctrl\x00chars\x07\x1b[31m", "x" * 100_000, "a\u200b\u202eb", "\ud800 lone"],
)
def test_odd_text_is_stored_not_crashing(session: Session, text: str) -> None:
    result = ingest(session, [make_raw(text=text), make_raw(text="normal")])
    assert result.new == 2 and not result.skipped
    stored = session.get(Mention, result.new_ids[0])
    assert stored is not None
    assert stored.text == text.replace("\x00", "").replace("\ud800", "\ufffd")


def test_enormous_text_is_rejected_with_reason_and_batch_continues(session: Session) -> None:
    result = ingest(session, [make_raw(text="y" * (MAX_TEXT_CHARS + 1)), make_raw()])
    assert result.new == 1
    assert "limit" in result.skipped[0]


def test_cursor_moves_with_the_batch_only(session: Session) -> None:
    ingest(session, [make_raw()], source="x", query_key="x:1", cursor="100")
    state = session.exec(select(SourceState)).one()
    assert state.cursor == "100"
    # a batch that fails to commit leaves the cursor where it was
    try:
        ingest(session, [make_raw()], source="x", query_key="x:1", cursor="200", commit=False)
        raise RuntimeError("crash before commit")
    except RuntimeError:
        session.rollback()
    session.expire_all()
    assert session.exec(select(SourceState)).one().cursor == "100"
    assert _count(session) == 1


def test_a_held_source_state_reads_the_moved_cursor(session: Session) -> None:
    """Later pages move the cursor with one UPDATE: the SourceState the session holds (made by the first
    page) is expired by it, so it reads the new cursor, not the one it was loaded with."""
    ingest(session, [make_raw()], source="x", query_key="x:1", cursor="100")
    held = session.exec(select(SourceState)).one()
    other = ingest(session, [make_raw()], source="x", query_key="x:2", cursor="7")
    assert other.new == 1
    ingest(session, [make_raw()], source="x", query_key="x:1", cursor="200")
    assert held.cursor == "200" and held.healthy
    assert get_source_state(session, "x", "x:2").cursor == "7"  # type: ignore[union-attr]


def test_times_are_utc(session: Session) -> None:
    naive = datetime(2026, 3, 29, 1, 30)
    result = ingest(session, [make_raw(created_at=naive)])
    m = session.get(Mention, result.new_ids[0])
    session.expire_all()
    m = session.get(Mention, result.new_ids[0])
    assert m is not None and m.created_at.tzinfo is not None
    assert m.created_at == datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)


def test_raw_payload_of_any_shape_is_stored_as_json(any_engine) -> None:
    raw = {"when": datetime(2026, 1, 1, tzinfo=timezone.utc), "nan": float("nan"), 3: ("a", "\x00b"),
           "obj": object.__name__, "nested": {"s": "\ud800"}}
    with Session(any_engine) as session:
        result = ingest(session, [make_raw(raw=raw), make_raw(raw={"plain": [1, 2, {"x": None}]}),
                                  make_raw(raw={"t": "nul\x00 and \ud800 lone"})])
        assert result.new == 3
        session.expire_all()
        first, second = (session.get(Mention, i) for i in result.new_ids[:2])
        assert first is not None and first.raw["when"].startswith("2026-01-01") and first.raw["nan"] is None
        assert first.raw["3"] == ["a", "b"]
        assert second is not None and second.raw == {"plain": [1, 2, {"x": None}]}


def test_a_refused_post_leaves_no_case_pointing_at_it(any_engine) -> None:
    """Cases are decided before the insert: when the database refuses the post a follow-up would join
    (PostgreSQL refuses a follower count beyond its integer), the rest is planned again without it."""
    root = make_raw(thread_id="tr", author_handle="rae")
    root.author_followers = 2**40  # set after construction, which would clamp it
    follow = make_raw(thread_id="tr", author_handle="rae")
    with Session(any_engine) as s:
        brand = make_brand(s, "Acme Air")
        result = ingest(s, [root, follow, make_raw()], brand_id=brand.id)
        stored = {m.external_id: m for m in s.exec(select(Mention))}
        if any_engine.dialect.name == "postgresql":
            assert result.new == 2 and "refused by the database" in result.skipped[0]
            assert root.external_id not in stored and stored[follow.external_id].case_id is None
        else:  # SQLite stores any integer
            assert stored[follow.external_id].case_id == stored[root.external_id].id
        assert result.new_ids == [stored[k].id for k in stored]  # in the batch's order


@pytest.mark.parametrize("size", [3, 1001])  # a collector's page (one insert) and three inserts of 500
def test_a_row_the_database_refuses_is_skipped_and_the_rest_stored(any_engine, size: int) -> None:
    """PostgreSQL refuses a follower count beyond its integer; SQLite stores any, so a trigger refuses
    the same there (as a CHECK would: the statement is aborted). The refused row goes to `skipped` with its
    reason, whichever insert it was in, and every other row of the page is stored, once."""
    if any_engine.dialect.name == "sqlite":
        with any_engine.begin() as conn:
            conn.exec_driver_sql("CREATE TRIGGER refuse_big BEFORE INSERT ON mention WHEN "
                                 "NEW.author_followers > 2147483647 BEGIN SELECT RAISE(ABORT, 'out of range'); END")
    raws = [make_raw(thread_id=f"r{i % 5}") for i in range(size)]
    bad = raws[size * 3 // 4]
    bad.author_followers = 2**40  # set after construction, which would clamp it
    with Session(any_engine) as s:
        result = ingest(s, raws, brand_id=make_brand(s, "Acme Air").id)
        stored = {m.external_id: m for m in s.exec(select(Mention))}
    assert result.new == size - 1 and len(result.skipped) == 1
    assert result.skipped[0].startswith(f"x:{bad.external_id} refused by the database")
    assert set(stored) == {r.external_id for r in raws} - {bad.external_id}
    assert result.new_ids == [stored[r.external_id].id for r in raws if r is not bad]


def test_reingest_of_a_mixed_batch_adds_only_the_new_posts(any_engine) -> None:
    raws = [make_raw(author_handle="mo", thread_id=f"m{i}") for i in range(3)]
    with Session(any_engine) as s:
        brand = make_brand(s, "Acme Air")
        ingest(s, raws[:2], brand_id=brand.id)
        again = ingest(s, raws, brand_id=brand.id)
        assert again.new == 1 and _count(s) == 3
        assert s.exec(select(Author).where(Author.handle == "mo")).one().mention_count == 3


@pytest.mark.postgres
def test_a_writer_that_stored_the_same_posts_first_is_joined_not_duplicated(pg_engine) -> None:
    """PostgreSQL: a second ingest that planned posts another writer was storing waits for it, finds them
    stored, and plans again: no duplicate, and its follow-up joins the case the first writer stored."""
    create_all(pg_engine)
    root = make_raw(thread_id="tw", author_handle="wen")
    follow = make_raw(thread_id="tw", author_handle="wen")
    with Session(pg_engine) as a, Session(pg_engine) as b:
        brand = make_brand(a, "Acme Air")
        first = ingest(a, [root], brand_id=brand.id, commit=False)  # stored, not committed yet
        done: list[object] = []
        worker = threading.Thread(target=lambda: done.append(ingest(b, [root, follow], brand_id=brand.id)))
        worker.start()
        worker.join(1.0)  # b blocks on a's uncommitted row
        a.commit()
        worker.join(30)
        assert not worker.is_alive() and done
        second = done[0]
        assert second.new == 1  # type: ignore[attr-defined]
        rows = {m.external_id: m for m in a.exec(select(Mention))}
        assert len(rows) == 2 and rows[follow.external_id].case_id == first.new_ids[0]
