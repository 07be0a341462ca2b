"""What changed since the page was drawn: cheap probes for the dashboard's live refresh.

Each open page keeps the `Stamp` it was drawn with and compares a fresh one every few seconds; only a
different stamp redraws the page. Each part is one index probe (max of an indexed column), so the cost
does not grow with the table: see benchmarks/live_refresh.py for the figures at 1,000,000 mentions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import CollectorRun, Mention, Reply, SourceRunRequest, SourceState
from careline.services.inbox import InboxFilter, apply_filter


@dataclass(frozen=True)
class Stamp:
    max_mention_id: int
    mention_changed: datetime | None  # any status, assignment, label, priority or new mention
    reply_changed: datetime | None  # any reply queued, sent, failed...


def stamp(session: Session) -> Stamp:
    # One aggregate per statement: SQLite answers a lone max() from the index's end, but two max() in one
    # SELECT scan the whole index (measured: 11 ms → 0.1 ms at 20,000 rows, far more at a million).
    changed = session.exec(select(sa.func.max(Mention.updated_at))).one()
    replied = session.exec(select(sa.func.max(Reply.updated_at))).one()
    return Stamp(max_mention_id(session), changed, replied)


def max_mention_id(session: Session) -> int:
    return int(session.exec(select(sa.func.max(Mention.id))).one() or 0)


def new_since(session: Session, flt: InboxFilter, after_id: int, cap: int = 1000) -> int:
    """How many mentions matching `flt` arrived after `after_id`: only the new rows are read.

    Two steps: the ids past `after_id` by primary key first (never more than `cap`), then the filter on just
    those, so the cost follows the new rows, not the table. SQLite also needs planner statistics (db.migrate
    runs ANALYZE): without them it walked ix_mention_deadline(status, ...) instead, ~40-70 ms at 1,000,000
    mentions; with them ~2 ms (benchmarks/live_refresh.py).
    """
    new_ids = list(session.exec(select(Mention.id).where(col(Mention.id) > after_id)
                                .order_by(col(Mention.id)).limit(cap)))
    if not new_ids:
        return 0
    inner = apply_filter(select(Mention.id).where(col(Mention.id).in_(new_ids)), flt).subquery()
    return int(session.exec(select(sa.func.count()).select_from(inner)).one())


def sources_stamp(session: Session) -> tuple[object, ...]:
    """Changes on the Sources page: a run started or finished, a source paused, failed or recovered, a "Run now"
    asked for or taken. (Stream counters move all the time and are left out: they would redraw constantly.)"""
    run_id = session.exec(select(sa.func.max(CollectorRun.id))).one()
    finished = session.exec(select(sa.func.max(CollectorRun.finished_at))).one()
    state = session.exec(select(sa.func.max(SourceState.updated_at))).one()
    asked = session.exec(select(sa.func.count(), sa.func.max(SourceRunRequest.requested_at))).one()
    return run_id, finished, state, tuple(asked)
