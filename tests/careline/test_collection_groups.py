"""A collector run writes a backfill's pages in groups (services/collection_pages.py PageGroup): up to
`write_every` posts a transaction, never holding a page across a wait, a failure or the query's end."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, func, select

from careline.models import CollectorRun, Mention, SourceState, utcnow
from careline.services.collection import collect
from collectors.base import Batch, Query, RateLimited, SourceError
from collectors.ratelimit import TransientError
from tests.collectors.conftest import add_brand
from tests.conftest import make_raw


class Pages:
    """`pages` pages of `size` posts with a cursor each; `fail` maps a page number to what its fetch
    raises the first time it is asked for."""

    name = "x"

    def __init__(self, pages: int, size: int, fail: dict[int, Exception] | None = None) -> None:
        self.pages, self.size, self.fail, self.asked = pages, size, dict(fail or {}), []

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        page = int(cursor or 0)
        self.asked.append(page)
        if page in self.fail:
            raise self.fail.pop(page)
        return Batch(mentions=[make_raw(external_id=f"p{page}-{i}", author_handle=f"a{i}") for i in range(self.size)],
                     cursor=str(page + 1), has_more=page < self.pages - 1, reads=self.size)


def _stored(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(Mention)).one())


def _cursor(engine) -> str | None:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        state = s.exec(select(SourceState)).first()
        return state.cursor if state else None


def test_a_backfill_writes_its_pages_in_groups_and_reports_each_page_once_written(any_engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(any_engine)
    at_page: list[tuple[int, int]] = []  # (page, posts stored when on_page heard of it)
    summary = collect(any_engine, Pages(5, 4), max_pages=10, write_every=12,
                      on_page=lambda _key, page, _batch: at_page.append((page, _stored(any_engine))))
    assert at_page == [(0, 12), (1, 12), (2, 12), (3, 20), (4, 20)]  # 3 pages reach 12 posts; the rest at the end
    assert (summary.pages, summary.new, summary.errors) == (5, 20, [])
    with Session(any_engine) as s:
        run = s.exec(select(CollectorRun)).one()
    assert (run.items_new, run.items_seen, run.api_calls, run.cursor_after) == (20, 20, 5, "5")
    assert _cursor(any_engine) == "5"


def test_a_page_is_never_held_longer_than_hold_s(any_engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(any_engine)
    at_page: list[tuple[int, int]] = []
    collect(any_engine, Pages(3, 2), write_every=1_000, hold_s=0.0,
            on_page=lambda _key, page, _batch: at_page.append((page, _stored(any_engine))))
    assert at_page == [(0, 2), (1, 4), (2, 6)]  # each page its own transaction


def test_held_pages_are_written_before_waiting_out_a_rate_limit_or_a_retry(any_engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(any_engine)
    soon = utcnow() + timedelta(seconds=5)
    source = Pages(4, 3, fail={1: RateLimited("X says wait", retry_at=soon), 3: TransientError("X answered 503")})
    stored_at_sleep: list[int] = []
    summary = collect(any_engine, source, write_every=1_000, sleep=lambda _s: stored_at_sleep.append(_stored(any_engine)))
    assert stored_at_sleep == [3, 9]  # page 0 before the rate-limit wait; pages 1 and 2 before the retry's backoff
    assert summary.new == 12 and summary.errors == [] and source.asked == [0, 1, 1, 2, 3, 3]
    assert _cursor(any_engine) == "4"


def test_a_failure_after_held_pages_keeps_them_and_records_the_failure(any_engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(any_engine)
    source = Pages(5, 3, fail={2: SourceError("X answered 404.")})
    summary = collect(any_engine, source, write_every=1_000)
    assert _stored(any_engine) == 6 and _cursor(any_engine) == "2"  # pages 0 and 1 stored; the next run asks for 2
    assert summary.errors == ["X answered 404."] and summary.pages == 2
    with Session(any_engine) as s:
        run = s.exec(select(CollectorRun)).one()
        state = s.exec(select(SourceState)).one()
    assert (run.items_new, run.api_calls, run.error) == (6, 3, "X answered 404.")
    assert state.last_error == "X answered 404."
    again = collect(any_engine, source, write_every=1_000)
    assert again.new == 9 and source.asked[-3:] == [2, 3, 4] and _stored(any_engine) == 15


def test_the_setting_chooses_how_many_posts_a_scheduled_run_commits_together(settings, engine) -> None:  # type: ignore[no-untyped-def]
    import pytest
    import sqlalchemy as sa
    from pydantic import ValidationError

    from careline import jobs
    from careline.settings import Settings

    add_brand(engine)
    commits: list[int] = []
    sa.event.listen(engine, "commit", lambda _conn: commits.append(1))
    one_by_one = settings.model_copy(update={"collect_write_every": 1})
    assert jobs.collect_source("demo", one_by_one, engine) > 0
    page_by_page = len(commits)
    with Session(engine) as s:  # the same posts again, grouped: a second engine-level count
        s.exec(sa.delete(Mention))  # type: ignore[call-overload]
        s.exec(sa.delete(SourceState))  # type: ignore[call-overload]
        s.commit()
    commits.clear()
    assert jobs.collect_source("demo", settings, engine) > 0
    assert len(commits) < page_by_page  # the demo's pages in one group, not one commit each
    with pytest.raises(ValidationError):
        Settings(collect_write_every=0, _env_file=None)  # type: ignore[call-arg]


def test_a_failed_write_before_a_wait_ends_the_run_and_the_held_pages_are_fetched_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The write before a rate-limit wait meets a locked database: the run fails there and the cursor stays
    before the held pages, so the next run stores them (carrying on would store later pages past them)."""
    import sqlite3

    from careline.db import create_all, make_engine

    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_s=0.2)
    create_all(engine)
    add_brand(engine)
    blocker = sqlite3.connect(path, timeout=0, check_same_thread=False)
    source = Pages(4, 3, fail={1: RateLimited("X says wait", retry_at=utcnow() + timedelta(seconds=5))})

    def fetch(query: Query, cursor: str | None) -> Batch:
        if source.asked == [0]:  # page 0 is held: another writer takes the lock before the wait
            blocker.execute("BEGIN EXCLUSIVE")
        return Pages.fetch(source, query, cursor)

    source.fetch = fetch  # type: ignore[method-assign]
    summary = collect(engine, source, write_every=1_000, sleep=lambda _s: None)
    blocker.rollback()
    assert any("locked" in e for e in summary.errors) and _stored(engine) == 0 and _cursor(engine) is None
    assert source.asked == [0, 1]  # no page fetched after the failed write
    again = collect(engine, source, write_every=1_000, sleep=lambda _s: None)
    assert again.new == 12 and _stored(engine) == 12 and _cursor(engine) == "4"
    blocker.close()
    engine.dispose()
