"""Workload counts: the inbox header and `careline status` read the same numbers from here."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Mention, Reply
from careline.services import inbox
from careline.services.inbox_filter import InboxFilter


def _count(session: Session, stmt: Any) -> int:
    return int(session.execute(stmt).scalar() or 0)


def workload(session: Session) -> dict[str, int]:
    """Headline counts (each one an indexed count, cheap at a million mentions): open, all mentions,
    unclassified, replies queued. Open is the open inbox's own count (inbox.count of the default filter:
    new or assigned, our brands, posts their author deleted left out, as the listing leaves them out)."""
    mentions = select(sa.func.count()).select_from(Mention)
    return {
        "open": inbox.count(session, InboxFilter(), cap=None),
        "mentions": _count(session, mentions),
        "unclassified": _count(session, mentions.where(col(Mention.classified_at).is_(None))),
        "queued": _count(session, select(sa.func.count()).select_from(Reply).where(col(Reply.state) == "queued")),
    }


def overview(session: Session) -> dict[str, Any]:
    """`careline status`: the workload counts, replies per state and the model versions in use."""
    counts = workload(session)
    outbox = dict(session.exec(select(Reply.state, sa.func.count()).group_by(Reply.state)).all())
    versions = [v for v in session.exec(select(Mention.model_version).distinct().limit(10)) if v]
    return {
        "counts": {"mentions": counts["mentions"], "open": counts["open"], "unclassified": counts["unclassified"],
                   **{f"replies {k}": v for k, v in outbox.items()}},
        "model_versions": versions,
    }
