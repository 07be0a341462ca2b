"""Tags as first-class filters: counts, rename/merge (audited), Trends and CSV exports filtered by tag."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from careline.errors import InvalidInput
from careline.models import AuditEvent, Mention
from careline.services import inbox, search_export, tags, trends, triage
from careline.services.inbox import InboxFilter
from careline.services.ingest import ingest
from tests.conftest import make_raw


def _seed(s: Session) -> list[int]:
    ids = ingest(s, [make_raw(text="=HYPERLINK(1) lost bag"), make_raw(text="refund please"),
                     make_raw(text="thanks"), make_raw(text="nothing")]).new_ids
    triage.set_tags(s, ids[0], [" VIP ", "bags"], "dana")
    triage.set_tags(s, ids[1], ["vip"], "dana")
    triage.set_tags(s, ids[2], ["praise"], "dana")
    return ids


def test_counts_and_rename_merge_everywhere(any_engine) -> None:
    with Session(any_engine) as s:
        ids = _seed(s)
        assert tags.tag_counts(s) == [("vip", 2), ("bags", 1), ("praise", 1)]
        assert tags.rename(s, "Bags", "vip", "admin") == 1  # merge into an existing tag
        assert s.get(Mention, ids[0]).tags == ["vip"]  # type: ignore[union-attr]
        assert tags.rename(s, "praise", "kudos", "admin") == 1
        assert tags.list_tags(s) == ["kudos", "vip"]
        events = s.exec(select(AuditEvent).where(AuditEvent.action.in_(["tag_rename", "tags"]))).all()
        assert [e.action for e in events].count("tag_rename") == 2
        with pytest.raises(InvalidInput, match="No mention has the tag"):
            tags.rename(s, "nope", "x", "admin")
        with pytest.raises(InvalidInput, match="already called"):
            tags.rename(s, "vip", "VIP ", "admin")


def test_trends_filter_by_tag(any_engine) -> None:
    with Session(any_engine) as s:
        ids = _seed(s)
        since, until = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc) + timedelta(days=1)
        rows = trends.volume(s, since, until, tags=["vip"])
        assert sum(r.count for r in rows) == 2
        assert sum(r.count for r in trends.volume(s, since, until)) == 4
        for mid in ids[1:3]:  # complaints tagged vip and praise: the tag filter keeps the first
            s.get(Mention, mid).intent = "complaint"  # type: ignore[union-attr]
        s.commit()
        assert trends.response_times(s, since, until, 60, tags=["vip"]).actionable == 1


def test_csv_export_of_a_tag_is_safe_and_audited(any_engine) -> None:
    with Session(any_engine) as s:
        ids = _seed(s)
        data, n = search_export.to_csv(s, InboxFilter(text="tag:vip", statuses=[]), "dana", order="oldest")
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        assert n == 2 and [int(r["id"]) for r in rows] == ids[:2]
        assert rows[0]["text"].startswith("'=HYPERLINK") and rows[0]["tags"] == "bags,vip"
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "export_mentions")).one()
        assert event.actor == "dana" and event.detail["rows"] == 2 and event.detail["query"] == "tag:vip"


def test_csv_export_with_a_limit_that_is_not_a_whole_page_writes_each_row_once(any_engine) -> None:
    """The last page of an export used to be asked for at a smaller page size under the same page number,
    an offset inside the rows already written: a 600-row export wrote rows 100-199 twice and never 500-599."""
    with Session(any_engine) as s:
        start = datetime(2026, 11, 1, tzinfo=timezone.utc)
        ingest(s, [make_raw(text=f"Acme Air post {i}", created_at=start + timedelta(minutes=i)) for i in range(650)])
        listed = [m.id for p in (1, 2) for m in
                  inbox.list_inbox(s, InboxFilter(), page=p, page_size=500, order="oldest").items]
        for limit in (600, 501, 499, 1):
            data, n = search_export.to_csv(s, InboxFilter(), "dana", order="oldest", limit=limit)
            ids = [int(r["id"]) for r in csv.DictReader(io.StringIO(data.decode()))]
            assert n == limit and ids == listed[:limit]


def test_tag_counts_break_ties_by_name_not_by_scan_order(any_engine) -> None:
    """Equal counts came out in the order the rows were scanned (first seen first), which is not the same
    on both databases nor after an update; the limit then kept whichever tied tags were seen first."""
    with Session(any_engine) as s:
        ids = ingest(s, [make_raw(text=f"post {i}") for i in range(4)]).new_ids
        for mid, tagged in zip(ids, (["zeta"], ["mid"], ["alpha", "vip"], ["vip"]), strict=True):
            triage.set_tags(s, mid, tagged, "dana")
        triage.set_tags(s, ids[0], ["zeta", "beta"], "dana")  # PostgreSQL: the row moves to the heap's end
        assert tags.tag_counts(s) == [("vip", 2), ("alpha", 1), ("beta", 1), ("mid", 1), ("zeta", 1)]
        assert tags.tag_counts(s, limit=2) == [("vip", 2), ("alpha", 1)]
