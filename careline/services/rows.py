"""Writing changed columns of many Mention rows in a few statements (routing, escalation, cases), and
reading them as plain columns where no ORM object is needed (cases at ingest).

The ORM's flush issues one UPDATE per row (measured ~0.3 ms a row on SQLite, most of a routing pass). Here
rows are grouped by which of `columns` actually changed and each group is one Core executemany UPDATE by
primary key (on PostgreSQL one UPDATE ... FROM VALUES per 1,000 rows instead): a column left out of SET
spares every index on it (priority and status are in six indexes each), which measured 1.4 s → 0.6 s for
10,000 routed rows on SQLite at 50k. The rows are then marked
clean for those columns, so the later flush does not write them again; a status that moved in or out of
the open statuses refreshes the customers' open counts (services/customer_counts.py), as a flush would.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from careline.db import in_values, recordset_columns
from careline.db_sqlite import sqlite_read, sqlite_write
from careline.models import Mention
from careline.services import customer_counts
from careline.services.priority import OPEN_STATUSES


def store_columns(session: Session, rows: Sequence[Mention], columns: Sequence[str]) -> None:
    changes, reopened = take_changes(rows, columns)
    store_changes(session, changes)
    customer_counts.status_changed(session, reopened)


def one_write_per_row(session: Session) -> bool:
    """Whether a second writer of a row in the same transaction should hand its columns to the first.
    PostgreSQL: yes, each UPDATE is a new row version with an entry in every index of the table. SQLite:
    no, a second UPDATE touches only the indexes of the columns it sets, on pages still in cache, while
    widening the first UPDATE's SET rewrites the indexes of every column it names. Measured with
    benchmarks/care_workflow.py at 1M: rules in classification 3,451 -> ~9,800/s on PostgreSQL (50k)
    with one write, but 15,541 -> 3,488/s on SQLite, so SQLite keeps two."""
    return session.get_bind().dialect.name == "postgresql"


def take_changes(rows: Sequence[Mention], columns: Sequence[str]) -> tuple[dict[int, dict[str, Any]], list[Mention]]:
    """What was set on these rows since they were loaded ({id: {column: value}}, only what differs), the
    rows marked clean for those columns (so no flush writes them), and those whose status moved in or out
    of the open statuses (the caller passes them to customer_counts.status_changed once it has written).
    For a caller that writes the changes itself, in a statement it makes anyway (classification)."""
    reopened = [m for m in rows if customer_counts.opens_or_closes(m)] if "status" in columns else []
    changes: dict[int, dict[str, Any]] = {}
    for m in rows:
        state = instance_state(m)  # the values as loaded, for what was set since (cheaper than get_history)
        before, now = state.committed_state, state.dict
        changed = {k: getattr(m, k) for k in columns if k in before and before[k] != now.get(k)}
        if changed and m.id is not None:
            changes[m.id] = changed
        for key, value in changed.items():  # clean first: executing would otherwise autoflush these rows one UPDATE each
            set_committed_value(m, key, value)
    return changes, reopened


def store_changes(session: Session, changes: dict[int, dict[str, Any]]) -> None:
    """Write take_changes' result: one statement per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for mid, changed in changes.items():
        groups.setdefault(tuple(sorted(changed)), []).append({"_id": mid, **changed})
    _update(session, groups)


def _update(session: Session, groups: dict[tuple[str, ...], list[dict[str, Any]]]) -> None:
    table = Mention.__table__  # type: ignore[attr-defined]
    postgres = session.get_bind().dialect.name == "postgresql"
    for changed, values in groups.items():
        if postgres:
            for start in range(0, len(values), 1000):
                stmt, params = _from_recordset(session, table, changed, values[start:start + 1000])
                session.connection().execute(stmt, params)
            continue
        stmt = sa.update(table).where(table.c.id == sa.bindparam("_id")).values({k: sa.bindparam(k) for k in changed})
        sqlite_write(session, stmt, values)  # one executemany through the driver (careline/db_sqlite.py)


class PlainRow:
    """A mention's columns as plain attributes (what score_mention and the case rules read), remembering
    the stored values so `store_plain` writes only what changed. Reading rows this way instead of as ORM
    objects took the case pass of 20k ingested posts (15k joins) from 7.5 s to about 2 s CPU."""

    id: int

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self._stored = values

    def __getattr__(self, name: str) -> Any:  # only reached for a column that was not read: a bug
        raise AttributeError(f"{name} was not read into this row")

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    @property
    def partial(self) -> bool:
        """Read with some columns only (cases read an earlier anchor's case_id, not its whole state)."""
        return "status" not in self._stored

    def complete(self, full: "PlainRow") -> None:
        """Add the columns this row was read without (those it has may have changed in memory: kept)."""
        for k, v in full._stored.items():
            if k not in self._stored:
                self._stored[k] = v
                object.__setattr__(self, k, v)

    def changed(self, columns: Sequence[str]) -> dict[str, Any]:
        """The columns (of those read) whose value differs from the stored one."""
        return {k: getattr(self, k) for k in columns if k in self._stored and getattr(self, k) != self._stored[k]}


def load_plain(session: Session, ids: Iterable[int], columns: Sequence[str]) -> dict[int, PlainRow]:
    table = Mention.__table__  # type: ignore[attr-defined]
    wanted = sorted(set(ids))
    cols = [table.c[c] for c in dict.fromkeys(("id", *columns))]
    out: dict[int, PlainRow] = {}
    names = [c.name for c in cols]
    sqlite = session.get_bind().dialect.name == "sqlite"
    for start in range(0, len(wanted), 500):
        stmt = sa.select(*cols).where(in_values(session, table.c.id, wanted[start:start + 500]))
        # plain tuples zipped with the names once: a RowMapping per row built its key view each time
        # (a fifth of reading 6,500 escalated rows); on SQLite through the driver (careline/db_sqlite.py)
        got = sqlite_read(session, stmt) if sqlite else session.connection().execute(stmt)
        out.update((r[0], PlainRow(dict(zip(names, r)))) for r in got)
    return out


def store_plain(session: Session, rows: Iterable[PlainRow], columns: Sequence[str]) -> None:
    """Write the changed columns (one executemany per set of columns), as store_columns does: ORM copies
    already in the session get the same values as committed (never stale, never written again), and a
    status that moved in or out of the open statuses refreshes the customers' open counts."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    reopened: list[PlainRow] = []
    for row in rows:
        diff = row.changed(columns)
        if not diff:
            continue
        groups.setdefault(tuple(diff), []).append({"_id": row.id, **diff})
        if "status" in diff and (row._stored.get("status") in OPEN_STATUSES) != (row.status in OPEN_STATUSES):
            reopened.append(row)
        loaded = session.identity_map.get(identity_key(Mention, row.id))
        for k, v in diff.items() if loaded is not None else ():
            set_committed_value(loaded, k, v)
    _update(session, groups)
    customer_counts.status_changed(session, reopened)  # type: ignore[arg-type]


def _from_recordset(session: Session, table: sa.Table, changed: Sequence[str],
                    values: Sequence[dict[str, Any]]) -> tuple[sa.Update, dict[str, str]]:
    """PostgreSQL: one UPDATE ... FROM (a JSON recordset: careline/db.py recordset_columns) per 1,000 rows.
    Each row update there costs the server its index entries anyway; a statement per row added ~1.5-2x on
    top (measured 557-920 → 199-444 µs a row at 100k, load 8-11). One document, not a VALUES list: the
    statement text is the same for any number of rows, so neither SQLAlchemy nor psycopg compiles or
    parses it again (a VALUES list of 500 rows was re-parsed by psycopg every time: most of the client's
    CPU of a case pass at ingest)."""
    picks, params = recordset_columns(session, table, ["_id", *changed], list(values), types={"_id": sa.Integer()})
    v = sa.select(*picks).subquery("routed")
    return sa.update(table).where(table.c.id == v.c._id).values({k: v.c[k] for k in changed}), params
