"""Kill the collector and the sender at every commit boundary; the next run must lose nothing and post
nothing twice.

The "kill" is a test hook on SQLAlchemy's before_commit: at the k-th commit the process dies, and from
then on nothing it tries to write lands (as with SIGKILL, not even its clean-up handlers can commit).
"""
from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from careline.db import create_all, make_engine
from careline.models import Author, Brand, Mention, Reply
from careline.services import outbox, replies
from careline.services.collection import collect as run_collect
from collectors.demo import DemoSource
from responders.base import PostedReply, ReplyTarget
from tests.responders.conftest import add_mention


class Killed(BaseException):
    """The process died (not an Exception: nothing in the code under test may catch it)."""


@contextmanager
def die_at_commit(k: int) -> Iterator[dict[str, int]]:
    seen = {"commits": 0, "dead": 0}

    def before_commit(_session: Session) -> None:
        seen["commits"] += 1
        if seen["commits"] >= k:
            seen["dead"] = 1
            raise Killed(f"killed at commit {k}")

    sa.event.listen(Session, "before_commit", before_commit)
    try:
        yield seen
    except Killed:
        pass
    finally:
        sa.event.remove(Session, "before_commit", before_commit)


ANCHOR = datetime.now(timezone.utc)  # no "live" demo posts yet: the corpus alone


def _fresh(path: Path):  # type: ignore[no-untyped-def]
    """A database with the two demo brands (copied from a template: building the schema is the slow part)."""
    template = path.parent / "template.db"
    if not template.exists():
        engine = make_engine(f"sqlite:///{template}")
        create_all(engine)
        with Session(engine) as s:
            s.add(Brand(name="Acme Air", keywords=["acme air"], handles=["AcmeAir"]))
            s.add(Brand(name="Skyhop", keywords=["skyhop"], competitor=True))
            s.commit()
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
    shutil.copy(template, path)
    return make_engine(f"sqlite:///{path}")


def _collected(engine) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        ids = sorted(s.exec(select(Mention.external_id)).all())
        authored = s.exec(select(func.sum(Author.mention_count))).one() or 0
    return ids, int(authored)


@pytest.mark.parametrize("write_every", [1, 1_000], ids=["page by page", "pages in groups"])
def test_collector_killed_at_every_commit_loses_and_duplicates_nothing(tmp_path: Path, write_every: int) -> None:
    source = lambda: DemoSource(anchor=ANCHOR, count=20)  # noqa: E731 - a fresh "process" each time
    collect = functools.partial(run_collect, write_every=write_every)
    clean = _fresh(tmp_path / "clean.db")
    collect(clean, source(), max_pages=50)
    expected, authored = _collected(clean)
    assert expected and authored == len(expected)
    counting = _fresh(tmp_path / "count.db")
    with die_at_commit(10**9) as probe:
        collect(counting, source(), max_pages=50)
    boundaries = probe["commits"]
    assert boundaries > 5
    for k in range(1, boundaries + 1):
        engine = _fresh(tmp_path / f"k{k}.db")
        with die_at_commit(k) as killed:
            collect(engine, source(), max_pages=50)
        assert killed["dead"], k
        collect(engine, source(), max_pages=50)  # the restarted collector
        ids, counted = _collected(engine)
        assert ids == expected, f"killed at commit {k}: lost {set(expected) - set(ids)}"
        assert counted == authored, f"killed at commit {k}: author counts drifted (counted twice?)"
        engine.dispose()


class Platform:
    """A platform that keeps what was posted, by idempotency key, and shows it to recovery."""

    platform = "x"

    def __init__(self) -> None:
        self.posts: dict[str, list[str]] = {}

    def reply(self, target: ReplyTarget, text: str, idempotency_key: str) -> PostedReply:
        self.posts.setdefault(idempotency_key, []).append(text)
        return PostedReply(f"post-{idempotency_key[-6:]}-{len(self.posts[idempotency_key])}")

    def find_existing_reply(self, target: ReplyTarget, idempotency_key: str,
                            text: str | None = None) -> PostedReply | None:
        return PostedReply(f"post-{idempotency_key[-6:]}-1") if idempotency_key in self.posts else None


def test_sender_killed_at_every_commit_never_posts_twice_or_loses_a_reply(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    def setup(path: Path):  # type: ignore[no-untyped-def]
        engine = make_engine(f"sqlite:///{path}")
        create_all(engine)
        for n in range(3):
            mid = add_mention(engine, "x", f"9{n}")
            with Session(engine, expire_on_commit=False) as s:
                replies.queue_reply(s, mid, f"Sorry about that ({n})", "alice")
        return engine

    counting = setup(tmp_path / "count.db")
    now = datetime.now(timezone.utc) + timedelta(minutes=1)  # every queued reply is due
    with die_at_commit(10**9) as probe:
        outbox.run(settings, counting, responders={"x": Platform()}, now=now)
    boundaries = probe["commits"]
    assert boundaries >= 6
    for k in range(1, boundaries + 1):
        engine, platform = setup(tmp_path / f"s{k}.db"), Platform()
        now = datetime.now(timezone.utc) + timedelta(minutes=1)
        with die_at_commit(k) as killed:
            outbox.run(settings, engine, responders={"x": platform}, now=now)
        assert killed["dead"], k
        for minutes in (6, 12, 17, 18, 30):  # the restarted sender: recovery, then whatever is due
            outbox.run(settings, engine, responders={"x": platform},
                       now=now + timedelta(minutes=minutes))
        with Session(engine) as s:
            rows = list(s.exec(select(Reply)))
        assert all(len(texts) == 1 for texts in platform.posts.values()), f"killed at commit {k}: posted twice"
        assert {r.state for r in rows} == {"sent"}, f"killed at commit {k}: {[(r.id, r.state) for r in rows]}"
        assert sorted(platform.posts) == sorted(r.idempotency_key for r in rows)
        engine.dispose()
