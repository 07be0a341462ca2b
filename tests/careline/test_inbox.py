"""The inbox service's own rules: a post its author deleted (a stream marks `deleted_at`, the row is kept)
leaves the inbox list and count, while a search still finds it and says so."""
from __future__ import annotations

import json
import random

from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from careline.cli import app
from careline.db import get_engine, migrate
from careline.services import inbox, inbox_search, streams
from careline.services.inbox import InboxFilter
from careline.services.ingest import ingest
from careline.settings import get_settings
from tests.conftest import make_raw
from tests.factories import make_brand, make_mention, utc


def _two_posts(session: Session) -> tuple[int, int]:
    result = ingest(session, [make_raw(platform="bluesky", external_id="at://did:plc:a/post/1",
                                       text="Acme Air lost my bag, deleting this later"),
                              make_raw(platform="bluesky", external_id="at://did:plc:b/post/2",
                                       text="Acme Air lost my bag too")])
    assert streams.mark_deleted(session, "bluesky", ["at://did:plc:a/post/1"]) == 1
    session.commit()
    gone, kept = result.new_ids
    return gone, kept


def test_deleted_posts_leave_the_inbox_but_search_finds_them_badged(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        gone, kept = _two_posts(session)
        listed = inbox.list_inbox(session, InboxFilter(include_competitors=True))
        assert [m.id for m in listed.items] == [kept]
        assert inbox.count(session, InboxFilter(include_competitors=True)) == 1
        everything = InboxFilter(include_competitors=True, include_deleted=True)
        assert {m.id for m in inbox.list_inbox(session, everything).items} == {gone, kept}
        found = inbox_search.search(session, "lost bag")
        assert {m.id for m in found.items} == {gone, kept} and found.total == 2
        badges = {m.id: inbox.deleted_badge(m) for m in found.items}
        assert badges == {gone: "deleted by the author", kept: ""}


def test_cli_search_badges_a_deleted_post(cli_env) -> None:  # type: ignore[no-untyped-def]
    engine = get_engine(get_settings().url)
    migrate(engine)
    with Session(engine, expire_on_commit=False) as session:
        gone, kept = _two_posts(session)
    result = CliRunner().invoke(app, ["search", "lost bag", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r["deleted"] for r in json.loads(result.stdout)["results"]}
    assert rows == {gone: "deleted by the author", kept: None}
    table = CliRunner().invoke(app, ["search", "lost bag"])
    assert "deleted by the author" in table.output


def test_languages_are_the_first_hundred_by_code_on_both_databases(any_engine: Engine) -> None:
    """`DISTINCT ... LIMIT 100` with no order kept whichever 100 languages each database's scan met first
    (of 120, SQLite and PostgreSQL each dropped a different set), so the language picker differed."""
    with Session(any_engine) as s:
        brand = make_brand(s)
        s.add_all([make_mention(brand, utc(2026, 11, 1), language=f"l{(37 * i) % 120:03d}") for i in range(120)])
        s.commit()
        assert inbox.languages(s) == [f"l{i:03d}" for i in range(100)]


def test_thread_and_author_history_break_equal_times_by_id(any_engine: Engine) -> None:
    """Posts at the same second came back in heap order on PostgreSQL once rows were updated (and the
    history's limit kept a different 20), in id order on SQLite."""
    with Session(any_engine) as s:
        at = utc(2026, 11, 1, 12)
        ids = ingest(s, [make_raw(text=f"Acme Air {i}", created_at=at, author_handle="kim", thread_id="t1")
                         for i in range(30)]).new_ids
        for mid in random.Random(3).sample(ids, len(ids)):  # PostgreSQL: each updated row moves in the heap
            m = inbox.get(s, mid)
            assert m is not None
            m.priority = 2.0
            s.add(m)
            s.commit()
        first = inbox.get(s, ids[0])
        assert first is not None
        assert [m.id for m in inbox.thread(s, first)] == ids[1:]
        assert [m.id for m in inbox.author_history(s, first)] == ids[:0:-1][:20]
