"""The one-statement-per-batch writes (careline/db.py insert_rows, services/rows.py) store exactly what
the row-by-row forms would, on SQLite and on PostgreSQL (arrays and unnest there)."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from careline.models import Author, Mention
from careline.services import rows
from careline.services.ingest import ingest
from tests.factories import make_raw, utc

ODD = ["", "😡 مرحبا 你好", "ctrl\x07\x1b[31m", "quote ' and \" and \\ and {braces} and %(name)s", "a\u200bb",
       "{1,2}", "NULL"]


def test_a_batch_of_odd_values_round_trips(any_engine) -> None:
    raws = [make_raw(text=t, author_handle=f"h{i}" if i % 2 else None, author_followers=None if i % 3 else i,
                     created_at=utc(2026, 3, 1) + timedelta(minutes=i),
                     raw={"i": i, "nested": {"t": t, "none": None}, "list": [t, 1.5, True]})
            for i, t in enumerate(ODD)]
    with Session(any_engine) as s:
        result = ingest(s, raws)
        assert result.new == len(ODD) and not result.skipped
        s.expire_all()
        stored = {m.external_id: m for m in s.exec(select(Mention))}
        for i, raw in enumerate(raws):
            m = stored[raw.external_id]
            assert m.text == ODD[i]
            assert m.raw == {"i": i, "nested": {"t": ODD[i], "none": None}, "list": [ODD[i], 1.5, True]}
            assert m.author_handle == raw.author_handle and m.author_followers == raw.author_followers
            assert m.created_at == raw.created_at and m.created_at.tzinfo is not None
            assert m.tags == [] and m.sentiment_scores == {} and m.status == "new"
        authors = {a.handle: a for a in s.exec(select(Author))}
        assert set(authors) == {f"h{i}" for i in range(len(ODD)) if i % 2}
        assert all(a.mention_count == 1 for a in authors.values())


def test_store_columns_writes_json_and_times_for_many_rows(any_engine) -> None:
    with Session(any_engine) as s:
        ids = ingest(s, [make_raw() for _ in range(3)]).new_ids
        ms = [s.get(Mention, i) for i in ids]
        when = utc(2026, 5, 4, 3, 2)
        for n, m in enumerate(ms):
            assert m is not None
            m.tags = ["vip", f"t{n}"] if n else []  # the first keeps its tags: not written at all
            m.first_response_at = when
            m.priority = 12.5 + n
        rows.store_columns(s, ms, ("tags", "first_response_at", "priority"))  # type: ignore[arg-type]
        s.commit()
        s.expire_all()
        back = [s.get(Mention, i) for i in ids]
        assert [m.tags for m in back if m] == [[], ["vip", "t1"], ["vip", "t2"]]
        assert all(m is not None and m.first_response_at == when for m in back)
        assert [m.priority for m in back if m] == [12.5, 13.5, 14.5]


def test_sqlite_write_stores_the_text_sqlalchemy_would(engine) -> None:
    """careline/db.py sqlite_write converts values itself: the stored text (timestamps, JSON, booleans)
    must be byte for byte what SQLAlchemy's own insert writes, or string comparisons on dates would break."""
    from datetime import datetime, timezone

    import sqlalchemy as sa

    from careline.db import sqlite_write
    from careline.models import AuditEvent

    t = AuditEvent.__table__  # type: ignore[attr-defined]
    values = [{"at": when, "actor": "t", "action": "a", "mention_id": None, "reply_id": None, "detail": detail}
              for when, detail in [(datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc), {}),
                                   (datetime(999, 1, 2, 3, 4, 5, 6), {"x": [1, "é", None], "nul": "a\x00b"}),
                                   (utc(2026, 1, 1).astimezone(timezone(timedelta(hours=5))), [])]]
    with Session(engine) as s:
        s.connection().execute(sa.insert(t), values)
        sqlite_write(s, sa.insert(t), values)
        s.execute(sa.update(t).where(t.c.id <= 3).values(actor="same"))
        s.execute(sa.update(t).where(t.c.id > 3).values(actor="same"))
        raw = s.connection().exec_driver_sql("SELECT at, detail, actor FROM audit_event ORDER BY id").all()
    assert raw[:3] == raw[3:] and raw[0][0] == "2026-03-29 01:30:00.000000"
