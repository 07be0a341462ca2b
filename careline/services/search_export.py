"""Exporting what a search or filter finds: CSV of the matching mentions (tags, labels, status, link).

The inbox's "Export these mentions" button and `careline search --format csv` both call `to_csv`, so a
tag (`tag:vip`) or any other filter exports exactly what the list shows. Cells are made spreadsheet-safe by
the one rule (careline/cells.csv_safe). The person exporting is audited with the query and count.
"""
from __future__ import annotations

import csv
import io
from dataclasses import replace

from sqlmodel import Session

from careline.cells import csv_safe
from careline.services import audit, inbox

# "deleted": inbox.deleted_badge, the badge the inbox's Status column, `careline search` and the weekly raw
# export show for a post its author deleted (a search finds those, so its export must say so too)
COLUMNS = ["id", "platform", "brand", "author_handle", "author_name", "created_at_utc", "status", "deleted",
           "assignee", "sentiment", "intent", "tags", "priority", "url", "text"]
MAX_ROWS = 100_000
PAGE_ROWS = 500  # read in inbox pages of this many (the inbox's largest page)


def to_csv(session: Session, f: inbox.InboxFilter, actor: str, *, order: str = "inbox",
           limit: int = MAX_ROWS) -> tuple[bytes, int]:
    """(CSV bytes, rows) of the mentions `f` matches, at most `limit`, in `order`; audited."""
    brands = {b.id: b.name for b in inbox.brands(session)}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    rows, page = 0, 1
    limit = max(1, min(limit, MAX_ROWS))
    while rows < limit:
        # One page size throughout, the last page cut short here: a page is an offset of (page - 1) *
        # page_size, so a smaller last page started inside the rows already written (a 600-row export
        # wrote 500 rows and then rows 100-199 again).
        listing = inbox.list_inbox(session, f, page=page, page_size=PAGE_ROWS, order=order)
        wanted = listing.items[:limit - rows]
        for m in wanted:
            w.writerow([csv_safe(v) for v in (
                m.id, m.platform, brands.get(m.brand_id or -1, ""), m.author_handle, m.author_name,
                m.created_at.isoformat(), m.status, inbox.deleted_badge(m), m.assignee, m.corrected_sentiment or m.sentiment,
                m.corrected_intent or m.intent, ",".join(m.tags or []), round(m.priority, 1), m.url, m.text)])
        rows += len(wanted)
        if not listing.has_next:
            break
        page += 1
    audit.record(session, actor, "export_mentions", query=f.text, tags=list(f.tags), rows=rows,
                 filters=_describe(f))
    session.commit()
    return buf.getvalue().encode("utf-8"), rows


def _describe(f: inbox.InboxFilter) -> dict[str, object]:
    plain = replace(f, since=None, until=None)
    out = {k: v for k, v in vars(plain).items() if v not in (None, [], False) and k not in ("text", "tags", "me")}
    if f.since:
        out["since"] = f.since.isoformat()
    if f.until:
        out["until"] = f.until.isoformat()
    return out
