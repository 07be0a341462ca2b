"""SQLite through the driver: many rows written, or read, with the values converted as SQLAlchemy's bind
and result types would, but without its per-parameter and per-value processing (the statements are still
built and compiled by SQLAlchemy, once per shape). careline/db.py write_rows and services/rows.py use it.
"""
from __future__ import annotations

import itertools
import json
import operator
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session


def sqlite_write(session: Session, stmt: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """SQLite: execute a write for many rows with the same keys through the driver; returns the rows of
    its RETURNING clause, if any. An INSERT (with any ON CONFLICT and RETURNING) becomes multi-row VALUES
    statements; anything else (an UPDATE with bind parameters named like the row keys) one executemany.

    The statement is compiled once per shape (cached by SQLAlchemy's cache key, as its own execute would;
    compiling the mention insert took ~1 ms, ten µs a mention at a page of 100) and the values converted as
    the bind types would (a UTC timestamp as SQLAlchemy's SQLite text, JSON by the engine's serializer,
    anything else by its type's bind processor) column by column: SQLAlchemy's per-parameter processing
    was about half the CPU of ingest's mention insert (17 indexes and the search trigger included) and most
    of its author and customer upserts (benchmarks/ingest_throughput.py, figures in docs/collectors.md). A
    column with a default must be in the rows: SQLAlchemy's defaults are not applied here."""
    if not rows:
        return []
    conn = session.connection()
    keys = list(rows[0])
    compiled, current = _compiled(conn, stmt, keys)
    if isinstance(stmt, sa.Insert):
        group = _VALUES.search(compiled.string)
        assert group is not None, compiled.string
        width = group.group(1).count("?")
        names = list(compiled.positiontup or [])
        if set(names[:width]) != set(keys):
            raise ValueError(f"the rows must set exactly the statement's columns: {names[:width]} vs {keys}")
        extra = [_convert(session, compiled.binds[n].type, [current[n]])[0] for n in names[width:]]
        # the rows' values column by column (a C transpose, not a comprehension per column), converted
        # only where the type needs it, then back to row order: 1,000 mention rows 6.0 -> 5.5 ms with the
        # driver's call stubbed (min of 30, load 1.9); the rest is their timestamps' and payloads' text
        pick = operator.itemgetter(*names[:width]) if width > 1 else (lambda r: (r[names[0]],))
        columns: list[Any] = list(zip(*map(pick, rows)))
        for j, n in enumerate(names[:width]):
            if _needs_convert(session, compiled.binds[n].type):
                columns[j] = _convert(session, compiled.binds[n].type, columns[j])
        out: list[Any] = []
        per = max(1, (32_000 - len(extra)) // width)  # SQLite allows 32,766 parameters a statement
        for start in range(0, len(rows), per):
            n = min(per, len(rows) - start)
            part = columns if n == len(rows) else [c[start:start + n] for c in columns]
            sql = compiled.string[:group.start(1) - 1] + ", ".join([f"({group.group(1)})"] * n) + \
                compiled.string[group.end(1) + 1:]
            result = conn.exec_driver_sql(sql, (*itertools.chain.from_iterable(zip(*part)), *extra))
            if result.returns_rows:  # the driver's own tuples: a driver-level statement has no result types
                out.extend(result.cursor.fetchall())
            result.close()
        return out
    names = list(compiled.positiontup or [])
    converted = {n: _convert(session, compiled.binds[n].type, [r[n] for r in rows] if n in rows[0]
                             else [current[n]] * len(rows)) for n in dict.fromkeys(names)}
    conn.exec_driver_sql(compiled.string, list(zip(*(converted[n] for n in names))))
    return []


_COMPILED: dict[Any, Any] = {}


def _compiled(conn: sa.Connection, stmt: Any, keys: list[str]) -> tuple[Any, dict[str, Any]]:
    """(the compiled statement, this statement's own bound values by name): one compile per statement shape
    and set of row keys, found by SQLAlchemy's cache key (the values bound in a statement are not part of
    its key, so they are read from this statement's, not the cached one's)."""
    insert = isinstance(stmt, sa.Insert)
    cache_key = stmt._generate_cache_key()
    slot = None if cache_key is None else (conn.dialect.name, cache_key.key, tuple(keys) if insert else None)
    compiled = _COMPILED.get(slot) if slot is not None else None
    if compiled is None:
        compiled = stmt.compile(dialect=conn.dialect, cache_key=cache_key, **({"column_keys": keys} if insert else {}))
        if slot is not None:
            if len(_COMPILED) >= 200:  # a handful of shapes in practice; never unbounded
                _COMPILED.clear()
            _COMPILED[slot] = compiled
    if cache_key is None:
        return compiled, {n: b.effective_value for n, b in compiled.binds.items()}
    values = compiled.construct_params(extracted_parameters=cache_key.bindparams, _check=False)
    return compiled, values


_EMPTY_JSON = {list: "[]", dict: "{}"}


class DumpedJSON(dict):  # type: ignore[type-arg]
    """A JSON object carrying its text as json.dumps writes it (the default serializer): a caller that had
    to dump it anyway (services/ingest_rows.py checks a payload is plain JSON) hands the text on, and
    _convert writes that instead of dumping it again. Everyone else sees the dict (orjson and json dump a
    subclass as a dict). Measured in services/ingest_rows.py _raw_payload."""

    __slots__ = ("text",)  # set by the caller after dict's own constructor (no __init__ of its own: cheaper)
    text: str
_VALUES = re.compile(r"VALUES \((\?(?:, \?)*)\)")


def _needs_convert(session: Session, type_: Any) -> bool:
    """Whether _convert changes values of this type (text, integers and floats go to SQLite as they are)."""
    from careline.models_base import UTCDateTime

    return isinstance(type_, (UTCDateTime, sa.JSON)) or \
        type_._cached_bind_processor(session.get_bind().dialect) is not None


def _convert(session: Session, type_: Any, values: Sequence[Any]) -> Sequence[Any]:
    """Values as a bind of this type sends them to SQLite."""
    from careline.models_base import UTCDateTime

    if isinstance(type_, UTCDateTime):
        return _utc_texts(values)
    if isinstance(type_, sa.JSON):  # empty lists and dicts (most of a new mention's JSON) need no encoder
        dump = getattr(session.get_bind().dialect, "_json_serializer", None) or json.dumps
        dumped = DumpedJSON if dump is json.dumps else None  # its text is json.dumps's, not another serializer's
        return [v.text if v.__class__ is dumped else dump(v) if v or v.__class__ not in _EMPTY_JSON
                else _EMPTY_JSON[v.__class__] for v in values]
    process = type_._cached_bind_processor(session.get_bind().dialect)
    return values if process is None else [process(v) for v in values]


def _sqlite_utc_text(value: Any) -> str | None:
    """A timestamp as UTCDateTime stores it on SQLite: naive UTC in SQLAlchemy's DATETIME text format
    ("2026-11-01 09:30:00.000000", which isoformat with microseconds writes for any year from 1)."""
    if value is None:
        return None
    if value.tzinfo is timezone.utc:  # the usual case: cut the "+00:00" rather than convert
        return value.isoformat(" ", "microseconds")[:-6]  # type: ignore[no-any-return]
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")  # type: ignore[no-any-return]


_UTC_TEXT: dict[Any, Any] = {}  # timestamp -> its stored text, across calls (see _utc_texts)
_UTC_VALUE: dict[Any, Any] = {}  # stored text -> its aware datetime, across calls (see _utc_values)
_MEMO_LIMIT = 20_000  # distinct values a memo holds before it is forgotten


def _memoised(cache: dict[Any, Any], convert: Any, values: Sequence[Any]) -> list[Any]:
    """`convert` of each value, None kept as None, remembered in `cache` by value across calls (cleared
    when it holds more than _MEMO_LIMIT): _utc_texts' and _utc_values' one loop."""
    if len(cache) > _MEMO_LIMIT:
        cache.clear()
    get = cache.get
    out: list[Any] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        done = get(v)
        if done is None:
            done = cache[v] = convert(v)
        out.append(done)
    return out


def _utc_texts(values: Sequence[Any]) -> list[Any]:
    """_sqlite_utc_text of each value, remembered by value: a post's created_at is written with the
    mention, then again as its author's, its (author, brand)'s and its customer's last contact, and the
    batch's `now` fills whole columns; formatting one took ~1.5 µs, a lookup ~0.05 (timeit, load 1.5).
    Equal aware timestamps are the same instant, so share one UTC text; naive and aware ones never
    compare equal."""
    return _memoised(_UTC_TEXT, _sqlite_utc_text, values)


def sqlite_read(session: Session, stmt: sa.Select[Any], params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """SQLite: a SELECT's rows as plain tuples through the driver, each column converted as its type's
    result processing would (a UTC timestamp parsed by `datetime.fromisoformat`, booleans, JSON by the
    engine's deserializer, anything else by its type's own processor). SQLAlchemy's per-value processing
    (a regular expression per timestamp, then UTCDateTime's) was two thirds of reading the rows an
    escalation scan fires (load_plain, 6,135 rows of 17 columns at 1M, py-spy: 188 ms, of which the
    timestamps' processors and the result's fetch 132). `params`: values for the statement's named bind
    parameters (a statement built once, as services/cases.py's), else the values bound in it.

    Converted column by column (a C transpose there and back, only the columns that need it touched)."""
    conn = session.connection()
    compiled, current = _compiled(conn, stmt, [])
    if "POSTCOMPILE" in compiled.string:  # a plain IN's parameters are expanded per execution by SQLAlchemy
        raise ValueError("sqlite_read takes no expanding IN: write it with careline.db.in_values")
    names = list(compiled.positiontup or [])
    if params:
        current = {**current, **params}
    values = tuple(_convert(session, compiled.binds[n].type, [current[n]])[0] for n in names)
    readers = [_reader(session, c.type) for c in stmt.selected_columns]
    result = conn.exec_driver_sql(compiled.string, values)
    rows: list[tuple[Any, ...]] = list(result.cursor.fetchall())  # the driver's own tuples, unprocessed
    result.close()
    if not rows or not any(readers):
        return rows
    columns: list[Any] = list(zip(*rows))
    for j, f in enumerate(readers):
        if f is _utc_from_text:
            columns[j] = _utc_values(columns[j])
        elif f is not None:
            columns[j] = [None if v is None else f(v) for v in columns[j]]
    return list(zip(*columns))


def _reader(session: Session, type_: Any) -> Any:
    """The conversion of a column's stored SQLite value to what its type returns (None: none needed)."""
    from careline.models_base import UTCDateTime

    if isinstance(type_, UTCDateTime):
        return _utc_from_text
    if isinstance(type_, sa.JSON):
        return getattr(session.get_bind().dialect, "_json_deserializer", None) or json.loads
    return type_._cached_result_processor(session.get_bind().dialect, None)


def _utc_values(texts: Sequence[str | None]) -> list[datetime | None]:
    """_utc_from_text of each stored text, remembered by text: ingest reads the same stored posts' times
    again for every batch of their authors (services/cases.py): 1,000 texts 0.81 ms parsed, 0.03 looked up
    (timeit, load ~2)."""
    return _memoised(_UTC_VALUE, _utc_from_text, texts)


def _utc_from_text(value: str) -> datetime:
    """UTCDateTime's stored text ("2026-11-01 09:30:00.000000", naive UTC) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
