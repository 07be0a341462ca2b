"""The one-statement-per-batch writes (careline/db.py insert_rows, services/rows.py) store exactly what
the row-by-row forms would, on SQLite and on PostgreSQL (one JSON document and json_to_recordset there)."""
from __future__ import annotations

from datetime import timedelta

import pytest
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

    from careline.db_sqlite import sqlite_write
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


def test_sqlite_read_returns_what_sqlalchemy_would(engine) -> None:
    """careline/db_sqlite.py sqlite_read converts the driver's values itself: aware UTC timestamps (with
    and without microseconds, None), booleans, JSON, numbers and odd text come back equal to SQLAlchemy's
    own result of the same SELECT, also through load_plain (which escalation and cases read with)."""
    import sqlalchemy as sa

    from careline.db import in_values
    from careline.db_sqlite import sqlite_read

    t = Mention.__table__  # type: ignore[attr-defined]
    with Session(engine) as s:
        ids = ingest(s, [make_raw(text=text, created_at=utc(2026, 3, 29, 1, 30) + timedelta(microseconds=n * 7))
                         for n, text in enumerate(ODD)]).new_ids
        s.execute(sa.update(t).where(t.c.id == ids[1]).values(needs_review=True, tags=["vip", ODD[1]],
                                                             first_response_at=utc(2026, 3, 30)))
        stmt = sa.select(t.c.id, t.c.text, t.c.created_at, t.c.first_response_at, t.c.needs_review, t.c.tags,
                         t.c.priority, t.c.author_followers).where(in_values(s, t.c.id, ids)).order_by(t.c.id)
        ours = sqlite_read(s, stmt)
        theirs = [tuple(r) for r in s.execute(stmt)]
        plain = rows.load_plain(s, ids, ("text", "created_at", "first_response_at", "needs_review", "tags"))
        with pytest.raises(ValueError, match="in_values"):
            sqlite_read(s, stmt.where(t.c.id.in_(ids)))
    assert ours == theirs and len(ours) == len(ODD)
    assert ours[0][2].tzinfo is not None and ours[1][4] is True and ours[0][4] is False
    assert ours[1][5] == ["vip", ODD[1]] and ours[0][3] is None
    assert {i: (r.text, r.created_at, r.needs_review) for i, r in plain.items()} == {
        r[0]: (r[1], r[2], r[4]) for r in theirs}


def test_insert_rows_stores_what_the_row_by_row_insert_would(any_engine) -> None:
    """careline/db.py insert_rows (a JSON recordset on PostgreSQL): timestamps with any offset or none (UTC,
    as UTCDateTime binds it), JSON values with NUL and odd text, and None in a JSON column as JSON null,
    the same as SQLAlchemy's own insert of the same rows."""
    from datetime import datetime, timezone

    import sqlalchemy as sa

    from careline.db import insert_rows, write_rows
    from careline.models import AuditEvent

    t = AuditEvent.__table__  # type: ignore[attr-defined]
    values = [{"at": when, "actor": actor, "action": "a", "mention_id": None, "reply_id": None, "detail": detail}
              for when, actor, detail in [
                  (datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc), ODD[3], {}),
                  (datetime(2026, 1, 2, 3, 4, 5, 6), ODD[1], {"x": [1, "é", None], "nul": "a\x00b", "q": ODD[3]}),
                  (utc(2026, 1, 1).astimezone(timezone(timedelta(hours=5))), ODD[6], None)]]
    with Session(any_engine) as s:
        s.connection().execute(sa.insert(t), values)
        stmt, params = insert_rows(s, AuditEvent, values)
        write_rows(s, stmt, params)
        got = s.connection().execute(sa.select(t.c.at, t.c.actor, t.c.detail, t.c.detail.is_(None))
                                     .order_by(t.c.id)).all()
    assert got[:3] == got[3:]
    assert got[1][0] == datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert got[2][2] is None and got[2][3] is False  # JSON null, not SQL NULL
    assert got[1][2]["nul"] == "a\x00b"


def test_in_values_matches_exactly_the_values(any_engine) -> None:
    """careline/db.py in_values (one JSON text on PostgreSQL) finds the rows whose value is in the list,
    whatever the text, under an OR too, and none for an empty list."""
    import sqlalchemy as sa

    from careline.db import in_values

    with Session(any_engine) as s:
        ids = ingest(s, [make_raw(author_handle=h) for h in ODD + ["plain"]]).new_ids
        s.commit()
        m = Mention.__table__  # type: ignore[attr-defined]

        def handles(clause: object) -> set[str]:
            return set(s.connection().execute(sa.select(m.c.author_handle).where(clause)).scalars())

        # ingest stores "" as no handle; the rest are stored as they are
        assert handles(in_values(s, m.c.author_handle, ODD)) == set(ODD[1:])
        assert handles(in_values(s, m.c.author_handle, [])) == set()
        assert handles(sa.or_(in_values(s, m.c.id, ids[-1:]), in_values(s, m.c.author_handle, ODD[3:4]))) == \
            {"plain", ODD[3]}


def test_in_param_statement_built_once_finds_each_executions_values(any_engine) -> None:
    """careline/db.py in_param: one statement, built once, bound to a different JSON list each time, finds
    that list's rows (the same name twice in one statement binds both); on SQLite it searches the index."""
    import json

    import sqlalchemy as sa

    from careline.db import in_param

    with Session(any_engine) as s:
        ids = ingest(s, [make_raw(author_handle=h) for h in ODD + ["plain"]]).new_ids
        s.commit()
        m = Mention.__table__  # type: ignore[attr-defined]
        dialect = s.get_bind().dialect.name
        stmt = sa.select(m.c.author_handle).where(in_param(dialect, m.c.author_handle, "h"))
        conn = s.connection()
        assert set(conn.execute(stmt, {"h": json.dumps(ODD[3:5])}).scalars()) == set(ODD[3:5])
        assert set(conn.execute(stmt, {"h": json.dumps(["plain"])}).scalars()) == {"plain"}
        assert set(conn.execute(stmt, {"h": "[]"}).scalars()) == set()
        twice = sa.select(m.c.id).where(sa.or_(in_param(dialect, m.c.id, "ids"), in_param(dialect, m.c.case_id, "ids")))
        assert set(conn.execute(twice, {"ids": json.dumps(ids[:2])}).scalars()) == set(ids[:2])
        if dialect == "sqlite":
            plan = " ".join(r[3] for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(stmt.compile(conn)), (json.dumps(["plain"]),)))
            assert "SEARCH mention USING" in plan and "SCAN mention" not in plan, plan


def test_sqlite_write_reuses_a_compiled_statement_with_its_own_values(engine) -> None:
    """sqlite_write compiles a statement shape once: a second statement of the same shape with other bound
    values must write its own values, not the first one's."""
    import sqlalchemy as sa

    from careline.db_sqlite import sqlite_write

    with Session(engine) as s:
        ids = ingest(s, [make_raw() for _ in range(4)]).new_ids
        t = Mention.__table__  # type: ignore[attr-defined]
        for tag, chosen in (("first", ids[:2]), ("second", ids[2:])):
            stmt = sa.update(t).where(t.c.id == sa.bindparam("mid")).values(status=sa.literal(tag), priority=sa.bindparam("p"))
            sqlite_write(s, stmt, [{"mid": i, "p": 1.5} for i in chosen])
        got = dict(s.connection().execute(sa.select(t.c.id, t.c.status).where(t.c.id.in_(ids))).all())
    assert [got[i] for i in ids] == ["first", "first", "second", "second"]


def test_sqlite_read_binds_named_parameters(engine) -> None:
    """sqlite_read with `params` (a statement built once, as services/cases.py's candidate reads): the
    named values are bound and converted as their types would (a timestamp as UTCDateTime's text), the
    rows as SQLAlchemy's own execute returns them; an empty result stays empty."""
    import sqlalchemy as sa

    from careline.db import in_param
    from careline.db_sqlite import sqlite_read

    t = Mention.__table__  # type: ignore[attr-defined]
    stmt = sa.select(t.c.id, t.c.created_at).where(
        in_param("sqlite", t.c.author_handle, "handles"),
        t.c.created_at >= sa.bindparam("earliest", type_=t.c.created_at.type)).order_by(t.c.id)
    with Session(engine) as s:
        ingest(s, [make_raw(author_handle=f"h{n % 2}", created_at=utc(2026, 3, 1) + timedelta(hours=n))
                   for n in range(6)])
        params = {"handles": '["h0"]', "earliest": utc(2026, 3, 1, 1, 30)}
        ours = sqlite_read(s, stmt, params)
        theirs = [tuple(r) for r in s.connection().execute(stmt, params)]
        none = sqlite_read(s, stmt, {"handles": '["nobody"]', "earliest": utc(2026, 3, 1)})
    assert ours == theirs and len(ours) == 2 and ours[0][1] == utc(2026, 3, 1, 2)
    assert none == []


def test_sqlite_timestamp_text_is_the_same_for_the_same_instant() -> None:
    """careline/db_sqlite.py remembers each timestamp's text by value: the same instant in another offset
    is the same UTC text, a naive one is taken as UTC as before, None stays None, and a full cache is
    emptied rather than grown."""
    from datetime import datetime, timezone

    from careline import db_sqlite

    at = utc(2026, 3, 29, 1, 30, 5)
    berlin = at.astimezone(timezone(timedelta(hours=2)))
    naive = datetime(2026, 3, 29, 1, 30, 5)
    expected = "2026-03-29 01:30:05.000000"
    assert db_sqlite._utc_texts([at, None, berlin, naive, at]) == [expected, None, expected, expected, expected]
    assert db_sqlite._utc_texts([berlin]) == [expected] and db_sqlite._sqlite_utc_text(berlin) == expected
    db_sqlite._UTC_TEXT.update({utc(2000, 1, 1) + timedelta(seconds=n): "x" for n in range(20_001)})
    assert db_sqlite._utc_texts([at + timedelta(microseconds=1)]) == ["2026-03-29 01:30:05.000001"]
    assert len(db_sqlite._UTC_TEXT) == 1


def test_a_recordset_document_orjson_refuses_still_goes_through_the_json_module(any_engine) -> None:
    """careline/db.py _document: orjson writes the document unless it refuses a value (an integer wider
    than 64 bits), which then goes through the json module as before; dict keys that are not text are
    written as text either way. Stored as SQLAlchemy's own insert stores the same rows."""
    from datetime import datetime, timezone

    import sqlalchemy as sa

    from careline.db import _document, _json_default, insert_rows, write_rows
    from careline.models import AuditEvent

    assert _document([{"n": 2**70}], _json_default) == '[{"n": 1180591620717411303424}]'  # the json module's form
    assert _document([{"d": {1: "a"}, "at": datetime(2026, 1, 2, 3, 4, 5, 6)}], _json_default) == (
        '[{"d":{"1":"a"},"at":"2026-01-02T03:04:05.000006+00:00"}]')  # orjson's: naive read as UTC
    t = AuditEvent.__table__  # type: ignore[attr-defined]
    when = datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)
    values = [{"at": when, "actor": "a", "action": "a", "mention_id": None, "reply_id": None, "detail": detail}
              for detail in ({"big": 2**70, "t": ODD[1]}, {"k": {"3": ODD[3]}, "f": 1.5})]
    with Session(any_engine) as s:
        s.connection().execute(sa.insert(t), values)
        stmt, params = insert_rows(s, AuditEvent, values)
        write_rows(s, stmt, params)
        got = s.connection().execute(sa.select(t.c.detail).order_by(t.c.id)).scalars().all()
    assert got[:2] == got[2:] and got[0]["big"] == 2**70 and got[1]["k"] == {"3": ODD[3]}


def test_stored_timestamps_are_parsed_once_per_text() -> None:
    """sqlite_read remembers each stored timestamp text's datetime (db_sqlite._utc_values): the same text
    gives an equal aware UTC datetime, None stays None, an offset text is converted, a full cache empties."""
    from careline import db_sqlite

    text = "2026-03-29 01:30:05.000007"
    first = db_sqlite._utc_values([text, None, "2026-03-29 03:30:05+02:00"])
    assert first == [utc(2026, 3, 29, 1, 30, 5) + timedelta(microseconds=7), None, utc(2026, 3, 29, 1, 30, 5)]
    assert first[0] is not None and first[0].tzinfo is not None
    assert db_sqlite._utc_values([text]) == first[:1] and text in db_sqlite._UTC_VALUE
    db_sqlite._UTC_VALUE.update({f"x{n}": utc(2000, 1, 1) for n in range(20_001)})
    assert db_sqlite._utc_values([text]) == first[:1] and len(db_sqlite._UTC_VALUE) == 1


def test_a_dumped_payload_is_written_as_its_text_only_by_the_default_serializer(engine) -> None:
    """careline/db_sqlite.py DumpedJSON: sqlite_write writes the text it carries (json.dumps's own) under
    the default serializer, and dumps the dict itself under any other; ingest's payload check hands it
    its text only for a plain object (services/ingest_rows.py _raw_payload)."""
    import json

    import sqlalchemy as sa

    from careline.db_sqlite import DumpedJSON, _convert
    from careline.services.ingest_rows import _raw_payload

    payload = {"tweet": {"id": "1", "s": "é\x00\ud800"}, "n": [1, 2.5, None]}
    checked = _raw_payload(payload)
    assert isinstance(checked, DumpedJSON) and checked == payload and checked.text == json.dumps(payload)
    assert _raw_payload([1, 2]) == [1, 2] and not isinstance(_raw_payload({}), DumpedJSON)
    assert _raw_payload({"nan": float("nan")}) == {"nan": None}
    marked = DumpedJSON({"a": 1})
    marked.text = '{"marked": true}'
    with Session(engine) as s:
        assert _convert(s, sa.JSON(), [marked, {}, [], {"b": 2}]) == ['{"marked": true}', "{}", "[]", '{"b": 2}']
        dialect = s.get_bind().dialect
        before = getattr(dialect, "_json_serializer", None)
        dialect._json_serializer = lambda v: json.dumps(v, sort_keys=True)  # type: ignore[attr-defined]
        try:
            assert _convert(s, sa.JSON(), [marked]) == ['{"a": 1}']
        finally:
            dialect._json_serializer = before  # type: ignore[attr-defined]
