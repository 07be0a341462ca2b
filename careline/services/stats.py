"""Small counts for `careline status` and the dashboard header."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Mention, Reply, SourceState


def overview(session: Session) -> dict[str, Any]:
    total = session.exec(select(sa.func.count()).select_from(Mention)).one()
    unclassified = session.exec(select(sa.func.count()).select_from(Mention).where(col(Mention.classified_at).is_(None))).one()
    open_ = session.exec(select(sa.func.count()).select_from(Mention).where(col(Mention.status).in_(["new", "assigned"]))).one()
    outbox = dict(session.exec(select(Reply.state, sa.func.count()).group_by(Reply.state)).all())
    versions = [v for v in session.exec(select(Mention.model_version).distinct().limit(10)) if v]
    return {
        "counts": {"mentions": total, "open": open_, "unclassified": unclassified,
                   **{f"replies {k}": v for k, v in outbox.items()}},
        "model_versions": versions,
        "sources": list(session.exec(select(SourceState).order_by(col(SourceState.source)))),
    }
