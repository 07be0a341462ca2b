"""A collector run always ends recorded: a database lock between fetch and commit, a killed process, a
failed API call, a paused source. The next query is still tried, and nothing is stored twice."""
from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

from sqlmodel import Session, func, select

from careline.db import create_all, make_engine
from careline.models import CollectorRun, Mention, SourceState, utcnow
from careline.services.collection import STALE_AFTER, collect, sweep_stale_runs
from careline.services.sources import pause
from collectors.base import Batch, Query, SourceError
from collectors.ratelimit import TransientError
from tests.collectors.conftest import add_brand
from tests.conftest import make_raw


class LockingSource:
    """A platform whose first fetch returns a page while another process takes the database's write lock
    (released a moment later), as a backup job or a second writer would."""

    name = "x"

    def __init__(self, path: str, hold_s: float) -> None:
        self.path, self.hold_s, self.fetches = path, hold_s, []

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        self.fetches.append(query.key)
        if len(self.fetches) == 1:
            blocker = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
            blocker.execute("BEGIN EXCLUSIVE")

            def release() -> None:
                blocker.rollback()
                blocker.close()
            threading.Timer(self.hold_s, release).start()
        return Batch(mentions=[make_raw(external_id=f"{query.key}-1")], cursor="c")


def test_database_lock_between_fetch_and_commit_is_a_failed_run_and_the_next_query_runs(tmp_path) -> None:
    path = tmp_path / "lock.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_s=0.2)
    create_all(engine)
    add_brand(engine, "Acme Air")
    add_brand(engine, "Globex", keywords=("globex",), handles=())
    src = LockingSource(str(path), hold_s=0.6)
    summary = collect(engine, src)  # used to raise PendingRollbackError and leave the run open
    assert len(src.fetches) == 2, "the second query must still be tried"
    with Session(engine) as s:
        runs = list(s.exec(select(CollectorRun).order_by(CollectorRun.id)))
        assert [r.finished_at is not None for r in runs] == [True, True]
        assert "locked" in (runs[0].error or "") and runs[1].error is None
        assert runs[0].api_calls == 1  # the page's call was made, even though the page was not stored
        stored = [m.external_id for m in s.exec(select(Mention))]
        first = s.exec(select(SourceState).where(SourceState.query_key == src.fetches[0])).one()
    assert stored == [f"{src.fetches[1]}-1"]  # the locked page is not half-stored...
    assert first.cursor is None and "locked" in (first.last_error or "")  # ...and its cursor did not move
    assert any("locked" in e for e in summary.errors)


class FailingSource:
    name = "x"

    def __init__(self, exc: Exception) -> None:
        self.exc, self.calls = exc, 0

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        self.calls += 1
        raise self.exc


def test_failed_api_calls_are_counted(engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    summary = collect(engine, FailingSource(SourceError("X answered 404.")))
    with Session(engine) as s:
        run = s.exec(select(CollectorRun)).one()
    assert (run.api_calls, summary.api_calls) == (1, 1) and run.error == "X answered 404."

    slept: list[float] = []
    flaky = FailingSource(TransientError("X had a server error (503)."))
    collect(engine, flaky, sleep=slept.append)
    with Session(engine) as s:
        run = s.exec(select(CollectorRun).order_by(CollectorRun.id.desc())).first()  # type: ignore[union-attr]
    assert flaky.calls == 4 and run.api_calls == 4 and len(slept) == 3  # 1 + 3 retries, every one counted


def test_killed_runs_are_closed_as_failed(engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    with Session(engine) as s:  # what a SIGKILLed collector leaves: a run with no end
        s.add(CollectorRun(source="x", query_key="x:1", started_at=utcnow() - STALE_AFTER - timedelta(minutes=1)))
        s.add(CollectorRun(source="x", query_key="x:1", started_at=utcnow()))  # still running elsewhere
        s.commit()
    assert sweep_stale_runs(engine, "x") == 1
    with Session(engine) as s:
        old, current = list(s.exec(select(CollectorRun).order_by(CollectorRun.id)))
    assert old.finished_at is not None and "interrupted" in (old.error or "")
    assert current.finished_at is None
    # collect() sweeps first, so the Sources page never shows a dead run as running
    with Session(engine) as s:
        s.add(CollectorRun(source="x", query_key="x:1", started_at=utcnow() - timedelta(days=1)))
        s.commit()
    collect(engine, FailingSource(SourceError("down")))
    with Session(engine) as s:
        open_runs = s.exec(select(func.count()).select_from(CollectorRun).where(
            CollectorRun.finished_at.is_(None))).one()  # type: ignore[union-attr]
    assert open_runs == 1  # only the one "still running elsewhere"


def test_paused_source_says_paused(engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    with Session(engine) as s:
        pause(s, "x", actor="ops", reason="plan upgrade")
    src = FailingSource(SourceError("must not be called"))
    summary = collect(engine, src)
    assert src.calls == 0 and summary.paused and summary.paused[0][2] == "plan upgrade"
    assert "paused until" in summary.line() and "plan upgrade" in summary.line() and "0 seen" not in summary.line()


class PagedSource:
    """Three pages of two posts each, with a cursor per page."""

    name = "x"

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        page = int(cursor or 0)
        return Batch(mentions=[make_raw(external_id=f"p{page}-{i}", author_handle=f"a{i}") for i in range(2)],
                     cursor=str(page + 1), has_more=page < 2)


def test_a_run_reads_brands_and_sla_policies_once_and_moves_the_cursor_every_page(any_engine) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    add_brand(any_engine)  # the first page makes the SourceState (held by the page's session); the
    seen: list[str] = []

    def log_statement(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))
    sa.event.listen(any_engine, "before_cursor_execute", log_statement)
    try:
        # page by page (a live run's pages): later pages move its cursor with one UPDATE each
        summary = collect(any_engine, PagedSource(), write_every=1)
    finally:
        sa.event.remove(any_engine, "before_cursor_execute", log_statement)
    assert summary.errors == [] and summary.pages == 3 and summary.new == 6
    assert sum("FROM sla_policy" in q for q in seen) == 1  # read on the first page, kept for the run
    assert sum(q.startswith("SELECT brand.id, brand.name") for q in seen) <= 2  # queries_for + attribution
    with Session(any_engine) as s:
        states = s.exec(select(SourceState)).all()
        runs = s.exec(select(CollectorRun)).all()
    assert [(st.cursor, st.healthy) for st in states] == [("3", True)]
    assert runs[-1].cursor_after == "3" and runs[-1].items_new == 6
    assert sum(q.startswith("UPDATE source_state SET cursor") for q in seen) == 3  # one a page (the first makes the row)
